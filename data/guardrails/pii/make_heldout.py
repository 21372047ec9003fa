#!/usr/bin/env python3
"""Builds data/guardrails/pii/heldout.jsonl, the labelled held-out set for the sensitive information policy.

Each line: {"target": TYPE, "text": ..., "entities": [{"type": TYPE, "match": exact substring}]}. For every type there
are positives written in varied phrasings (values random but valid: Luhn, SSN rules, ABA, mod-97, VIN check digits)
and hard negatives: look-alike strings that must NOT be detected (invalid checksums, versions, dates, hashes, order
numbers, words that are names only sometimes). Adversarial positives: values split across lines, inside escaped JSON,
with spaces or dashes inside numbers. The templates were written for this set, separately from the unit tests.
Deterministic: python3 data/guardrails/pii/make_heldout.py > data/guardrails/pii/heldout.jsonl
"""
import json, random, string, sys

R = random.Random(20261123)
rows = []

def add(target, text, *entities):
    for t, m in entities:
        assert m in text, (t, m, text)
    rows.append({"target": target, "text": text, "entities": [{"type": t, "match": m} for t, m in entities]})

def luhn_complete(prefix, length):
    digits = [int(c) for c in prefix] + [R.randint(0, 9) for _ in range(length - len(prefix) - 1)]
    for check in range(10):
        d = digits + [check]
        s = 0
        for i, v in enumerate(reversed(d)):
            if i % 2 == 1:
                v *= 2
                if v > 9: v -= 9
            s += v
        if s % 10 == 0:
            return ''.join(map(str, d))

def luhn_bad(prefix, length):
    good = luhn_complete(prefix, length)
    return good[:-1] + str((int(good[-1]) + 3) % 10)

def group(num, sizes, sep):
    out, i = [], 0
    for s in sizes:
        out.append(num[i:i + s]); i += s
    return sep.join(out)

def ssn():
    while True:
        a = R.randint(1, 899)
        if a != 666: break
    return "%03d-%02d-%04d" % (a, R.randint(1, 99), R.randint(1, 9999))

def aba():
    while True:
        d = [R.choice([0, 1, 2, 3]), R.randint(0, 9)] + [R.randint(0, 9) for _ in range(6)]
        pre = d[0] * 10 + d[1]
        if not (pre <= 12 or 21 <= pre <= 32): continue
        for c in range(10):
            x = d + [c]
            if (3 * (x[0] + x[3] + x[6]) + 7 * (x[1] + x[4] + x[7]) + (x[2] + x[5] + x[8])) % 10 == 0:
                return ''.join(map(str, x))

def iban(country="DE", length=22):
    bban = ''.join(R.choice(string.digits) for _ in range(length - 4))
    num = ''.join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(num) % 97
    return country + "%02d" % check + bban

VIN_W = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
VIN_V = {**{str(i): i for i in range(10)}, **dict(zip("ABCDEFGH", [1, 2, 3, 4, 5, 6, 7, 8])), **dict(zip("JKLMN", [1, 2, 3, 4, 5])), "P": 7, "R": 9, **dict(zip("STUVWXYZ", [2, 3, 4, 5, 6, 7, 8, 9]))}
def vin(valid=True):
    chars = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    v = [R.choice(chars) for _ in range(17)]
    s = sum(VIN_V[c] * w for c, w in zip(v, VIN_W)) % 11
    v[8] = 'X' if s == 10 else str(s)
    if not valid:
        v[8] = str((int(v[8]) + 1) % 10) if v[8] != 'X' else '1'
    return ''.join(v)

def nhs(valid=True):
    while True:
        d = [R.randint(0, 9) for _ in range(9)]
        c = 11 - sum(v * (10 - i) for i, v in enumerate(d)) % 11
        c = 0 if c == 11 else c
        if c == 10: continue
        if not valid: c = (c + 1) % 10
        s = ''.join(map(str, d + [c]))
        return s[:3] + " " + s[3:6] + " " + s[6:]

FIRST = ["Olivia", "Marcus", "Priya", "Daniel", "Fatima", "Gregory", "Hannah", "Luis", "Natalie", "Samuel", "Teresa", "Victor", "Wendy", "Yolanda", "Kevin", "Laura"]
LAST = ["Whitaker", "Nguyen", "Patel", "Kowalski", "Okafor", "Fernandez", "Lindqvist", "Morrison", "Castillo", "Brennan", "Hughes", "Sullivan", "Ramirez", "Dawson", "Fischer", "Gallagher"]
STREETS = ["Maple", "Oak Ridge", "Harbor View", "Elm", "Sycamore", "Pine Hollow", "Lakeshore", "Cedar"]
STYPES = ["Street", "Avenue", "Road", "Blvd", "Lane", "Drive", "Court", "St.", "Way"]
CITIES = [("Springfield", "IL"), ("Portland", "OR"), ("Austin", "TX"), ("Madison", "WI"), ("Raleigh", "NC")]

def name(): return R.choice(FIRST) + " " + R.choice(LAST)
def email(): return R.choice(["j.doe", "priya.k", "mwhitaker", "sales-team", "o.nguyen+news", "dfischer"]) + str(R.randint(1, 99)) + "@" + R.choice(["example.com", "mail.example.org", "contoso.co.uk", "fabrikam.io"])
def phone():
    a, b, c = R.randint(201, 989), R.randint(200, 999), R.randint(0, 9999)
    return R.choice(["(%d) %d-%04d", "%d-%d-%04d", "%d.%d.%04d", "+1 %d %d %04d"]) % (a, b, c)

# EMAIL
for _ in range(12):
    e = email()
    add("EMAIL", R.choice(["Please reply to %s by Friday.", "Contact: %s", "I changed my address to %s yesterday", "cc %s on the thread"]) % e, ("EMAIL", e))
add("EMAIL", '{"user": {"contact": "ana.b\\u0040example.com"}}', ("EMAIL", "ana.b\\u0040example.com"))
for t in ["The @mention syntax is @team.", "Use the format name at domain dot com.", "Version string: pkg@1.2.3", "Decorators like @property and @staticmethod", "Ping me @priya_k on chat", "The rate is 5@ $3 each"]:
    add("EMAIL", t)

# PHONE
for _ in range(12):
    p = phone()
    add("PHONE", R.choice(["Call me at %s after 5pm.", "Mobile: %s", "You can reach the front desk on %s.", "my cell is %s"]) % p, ("PHONE", p))
add("PHONE", "Reach me at +44 20 7946 0958 tomorrow.", ("PHONE", "+44 20 7946 0958"))
add("PHONE", "Phone: (415) 555-\n0132", ("PHONE", "(415) 555-\n0132"))
for t in ["Order number 1234567 shipped.", "The meeting is 2024-03-15 at 10:30.", "Build 20231115 passed", "Pi is 3.14159265", "Population 8,336,817 in 2020", "Part no. 120-45-9 and 88-1-223"]:
    add("PHONE", t)

# SSN
for _ in range(12):
    s = ssn()
    add("US_SOCIAL_SECURITY_NUMBER", R.choice(["My SSN is %s.", "social security number: %s", "SSN %s on file", "The applicant's SSN, %s, was verified."]) % s, ("US_SOCIAL_SECURITY_NUMBER", s))
s = ssn().replace("-", "")
add("US_SOCIAL_SECURITY_NUMBER", "ssn=%s" % s, ("US_SOCIAL_SECURITY_NUMBER", s))
s = ssn().replace("-", " ")
add("US_SOCIAL_SECURITY_NUMBER", "Social Security No. %s" % s, ("US_SOCIAL_SECURITY_NUMBER", s))
for t in ["Invoice 000-12-3456 is void.", "Ticket 666-45-1234 closed", "Serial 123-00-4567", "Call 555-0100 now", "The zip code is 902101234", "Room 12-34-5678 in block C"]:
    add("US_SOCIAL_SECURITY_NUMBER", t)

# CARD
for prefix, length, sizes in [("4", 16, [4, 4, 4, 4]), ("51", 16, [4, 4, 4, 4]), ("37", 15, [4, 6, 5]), ("6011", 16, [4, 4, 4, 4]), ("2221", 16, [4, 4, 4, 4]), ("35", 16, [4, 4, 4, 4])]:
    for sep in [" ", "-", ""]:
        c = group(luhn_complete(prefix, length), sizes, sep)
        add("CREDIT_DEBIT_CARD_NUMBER", R.choice(["Charge card %s please.", "card number: %s", "Use my Visa %s for the order"]) % c, ("CREDIT_DEBIT_CARD_NUMBER", c))
c = group(luhn_complete("4", 16), [4, 4, 4, 4], " ")
split = c[:9] + "\n" + c[10:]
add("CREDIT_DEBIT_CARD_NUMBER", "card:\n%s" % split, ("CREDIT_DEBIT_CARD_NUMBER", split))
for _ in range(6):
    add("CREDIT_DEBIT_CARD_NUMBER", "Tracking number %s" % group(luhn_bad("4", 16), [4, 4, 4, 4], " "))
for t in ["Order 1234567890123456 confirmed", "IMEI 490154203237518 registered", "timestamp 1700000000123"]:
    add("CREDIT_DEBIT_CARD_NUMBER", t)

# IP
for ip in ["192.168.10.24", "10.0.0.1", "203.0.113.77", "2001:db8:85a3::8a2e:370:7334", "fe80::1ff:fe23:4567:890a", "172.16.254.3"]:
    add("IP_ADDRESS", R.choice(["The server at %s is down.", "Login from IP %s detected", "ssh admin@%s"]) % ip, ("IP_ADDRESS", ip))
for t in ["Upgrade to version 1.2.3.4 today", "Meeting at 12:30:45", "Scores 300.1.2.3 invalid", "Use v2.10.0.1 of the SDK", "Ratio 3:2:1 works", "The C# type is System.Collections.Generic"]:
    add("IP_ADDRESS", t)

# URL
for u in ["https://example.com/reset?token=abc123", "http://intranet.contoso.local/payroll", "www.fabrikam.io/profile/42", "https://docs.example.org/a/b_(c)"]:
    add("URL", "See %s for details." % u, ("URL", u))
for t in ["The file is named report.final.pdf", "Use e.g. this or i.e. that", "Version 3.10 released", "Config key server.port"]:
    add("URL", t)

# AWS keys
for _ in range(6):
    k = "AKIA" + ''.join(R.choice(string.ascii_uppercase + "234567") for _ in range(16))
    add("AWS_ACCESS_KEY", R.choice(["aws_access_key_id = %s", "The key %s leaked", "export AWS_ACCESS_KEY_ID=%s"]) % k, ("AWS_ACCESS_KEY", k))
    sk = ''.join(R.choice(string.ascii_letters + string.digits + "/+") for _ in range(40))
    while not (any(c.isupper() for c in sk) and any(c.islower() for c in sk) and any(c.isdigit() for c in sk)):
        sk = ''.join(R.choice(string.ascii_letters + string.digits + "/+") for _ in range(40))
    add("AWS_SECRET_KEY", R.choice(["aws_secret_access_key = %s", "secret: %s", "AWS_SECRET_ACCESS_KEY=%s"]) % sk, ("AWS_SECRET_KEY", sk))
for t in ["commit 3f786850e387550fdab836ed7e6dc881de23001b fixed it", "AKIA is the prefix of access keys", "hash da39a3ee5e6b4b0d3255bfef95601890afd80709", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMN"]:
    add("AWS_SECRET_KEY", t)
    add("AWS_ACCESS_KEY", t)

# BANK ACCOUNT / ROUTING
for _ in range(8):
    acct = ''.join(R.choice(string.digits) for _ in range(R.randint(8, 12)))
    add("US_BANK_ACCOUNT_NUMBER", R.choice(["Account number %s at Chase.", "acct no: %s", "Deposit to checking account %s"]) % acct, ("US_BANK_ACCOUNT_NUMBER", acct))
    r = aba()
    add("US_BANK_ROUTING_NUMBER", R.choice(["routing number %s", "ABA %s", "Routing: %s"]) % r, ("US_BANK_ROUTING_NUMBER", r))
for t in ["Order 12345678 shipped", "The account was created in 20230115", "Call center queue 987654321", "See invoice 4455667788"]:
    add("US_BANK_ACCOUNT_NUMBER", t)
    add("US_BANK_ROUTING_NUMBER", t)
add("US_BANK_ROUTING_NUMBER", "routing number 123456789 is wrong")

# PASSWORD / USERNAME
for pw in ["hunter2", "S3cure!Pass", "correct-horse-battery-9", "Tr0ub4dor&3", "qwerty123", "P@ssw0rd2024"]:
    add("PASSWORD", R.choice(["my password is %s", "Password: %s", "pwd=%s", "I set the password to %s"]) % pw, ("PASSWORD", pw))
add("PASSWORD", '{"username":"jdoe","password":"Winter\\u00212025"}', ("PASSWORD", "Winter\\u00212025"), ("USERNAME", "jdoe"))
for t in ["Your password is required to continue.", "Password reset links expire.", "Choose a strong password.", "The password field is empty."]:
    add("PASSWORD", t)
for u in ["jdoe42", "m.whitaker", "priya_k", "admin01"]:
    add("USERNAME", R.choice(["username: %s", "My user name is %s", "login = %s"]) % u, ("USERNAME", u))
for t in ["The username is required.", "Users can log in here.", "A user is a person.", "Enter your username below."]:
    add("USERNAME", t)

# DRIVER_ID / PASSPORT
for d in ["D1234567", "S530-4128-7731", "A12345678", "WDL0ABC123XY"]:
    add("DRIVER_ID", R.choice(["Driver's license number %s", "my driver license: %s", "DL# %s"]) % d, ("DRIVER_ID", d))
for t in ["I have a driver's license.", "License: MIT", "Driving licence renewal is due."]:
    add("DRIVER_ID", t)
for p in ["X12345678", "123456789", "C03005988", "E00007734"]:
    add("US_PASSPORT_NUMBER", R.choice(["passport number %s", "Passport No: %s", "my passport is %s"]) % p, ("US_PASSPORT_NUMBER", p))
for t in ["Bring your passport to the airport.", "Passport photos cost $15.", "Ticket 123456789 booked"]:
    add("US_PASSPORT_NUMBER", t)

# NAME
for _ in range(8):
    n = name()
    add("NAME", R.choice(["%s called about the invoice.", "Please forward this to %s.", "Meeting notes by %s", "I spoke with %s yesterday."]) % n, ("NAME", n))
add("NAME", "Dear Dr. Okafor, your results are ready.", ("NAME", "Okafor"))
add("NAME", "Hi, my name is Priya and I need help.", ("NAME", "Priya"))
add("NAME", "Thanks, Marcus", ("NAME", "Marcus"))
add("NAME", "Mrs. Hannah Lindqvist signed the lease.", ("NAME", "Hannah Lindqvist"))
for t in ["The meeting is in May.", "Will you send the report?", "We flew to Paris in June.", "Grace periods apply to late payments.", "The Main Street branch opens Monday.", "Mark the item as done.", "The Amazon River is long.", "Click Save and then Close."]:
    add("NAME", t)

# ADDRESS
for _ in range(8):
    city, st = R.choice(CITIES)
    a = "%d %s %s" % (R.randint(1, 9999), R.choice(STREETS), R.choice(STYPES))
    full = R.choice([a, "%s, %s, %s %05d" % (a, city, st, R.randint(10000, 99999)), "%s, Apt %d" % (a, R.randint(1, 40))])
    add("ADDRESS", R.choice(["Ship it to %s please.", "I live at %s.", "Address: %s"]) % full, ("ADDRESS", full))
for t in ["We sold 300 units on Main.", "Take Route 66 west.", "There were 42 people at the event.", "Chapter 3 Road to Recovery"]:
    add("ADDRESS", t)

# Extras
for d in ["aged 34", "I am 52 years old", "Patient age: 67"]:
    v = [w for w in d.replace(":", " ").split() if w.isdigit()][0]
    add("AGE", d + ".", ("AGE", v))
add("AGE", "The 3 year warranty covers it.")
add("MAC_ADDRESS", "Device MAC 00:1A:2B:3C:4D:5E online", ("MAC_ADDRESS", "00:1A:2B:3C:4D:5E"))
add("MAC_ADDRESS", "Time 10:20:30:40 elapsed")
for c, l in [("DE", 22), ("GB", 22), ("FR", 27)]:
    ib = iban(c, l)
    add("INTERNATIONAL_BANK_ACCOUNT_NUMBER", "IBAN %s" % ib, ("INTERNATIONAL_BANK_ACCOUNT_NUMBER", ib))
add("INTERNATIONAL_BANK_ACCOUNT_NUMBER", "Reference DE00123456780000000000 only")
for _ in range(3):
    v = vin()
    add("VEHICLE_IDENTIFICATION_NUMBER", "VIN %s" % v, ("VEHICLE_IDENTIFICATION_NUMBER", v))
add("VEHICLE_IDENTIFICATION_NUMBER", "Product code %s in stock" % vin(valid=False))
n1 = nhs()
add("UK_NATIONAL_HEALTH_SERVICE_NUMBER", "NHS number %s" % n1, ("UK_NATIONAL_HEALTH_SERVICE_NUMBER", n1))
add("UK_NATIONAL_HEALTH_SERVICE_NUMBER", "NHS number %s" % nhs(valid=False))
add("UK_NATIONAL_INSURANCE_NUMBER", "NI number AB 12 34 56 C", ("UK_NATIONAL_INSURANCE_NUMBER", "AB 12 34 56 C"))
add("UK_NATIONAL_INSURANCE_NUMBER", "Code GB123456A is a batch")
add("PIN", "My PIN is 4821", ("PIN", "4821"))
add("PIN", "Pin the note to the board.")
add("CREDIT_DEBIT_CARD_CVV", "CVV: 123", ("CREDIT_DEBIT_CARD_CVV", "123"))
add("CREDIT_DEBIT_CARD_EXPIRY", "expires 09/27", ("CREDIT_DEBIT_CARD_EXPIRY", "09/27"))

for r in rows:
    sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
