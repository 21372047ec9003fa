#!/usr/bin/env python3
"""Builds data/guardrails/pii/test.jsonl: the held-out TEST set of the sensitive information policy.

Written after the detectors were frozen, with phrasings and formats not used in heldout.jsonl (the development set
the detectors were tuned on): multi-entity messages, CSV rows, log lines, JSON bodies, chat turns, forms. Scored once
and reported as measured; no detector change was made from its results. Same line format as heldout.jsonl.
Run: python3 data/guardrails/pii/make_test.py > data/guardrails/pii/test.jsonl
"""
import json, random, string, sys

R = random.Random(777)
rows = []

def add(target, text, *entities):
    for t, m in entities:
        assert m in text, (t, m, text)
    rows.append({"target": target, "text": text, "entities": [{"type": t, "match": m} for t, m in entities]})

def luhn(prefix, length):
    d = [int(c) for c in prefix] + [R.randint(0, 9) for _ in range(length - len(prefix) - 1)]
    for c in range(10):
        x = d + [c]
        s = sum((v * 2 - 9 if v * 2 > 9 else v * 2) if i % 2 == 1 else v for i, v in enumerate(reversed(x)))
        if s % 10 == 0:
            return ''.join(map(str, x))

def ssn():
    a = R.choice([R.randint(1, 665), R.randint(667, 899)])
    return "%03d-%02d-%04d" % (a, R.randint(1, 99), R.randint(1, 9999))

def aba():
    while True:
        d = [0, R.randint(1, 9)] + [R.randint(0, 9) for _ in range(6)]
        for c in range(10):
            x = d + [c]
            if (3 * (x[0] + x[3] + x[6]) + 7 * (x[1] + x[4] + x[7]) + (x[2] + x[5] + x[8])) % 10 == 0:
                return ''.join(map(str, x))

PEOPLE = [("Amelia", "Carter"), ("Jonah", "Whitfield"), ("Rosa", "Delgado"), ("Ethan", "Brooks"), ("Chloe", "Bennett"), ("Omar", "Haddad"), ("Grace", "Holloway"), ("Diego", "Navarro"), ("Ingrid", "Larsen"), ("Tyler", "Grant")]

# Support emails with several entities.
for first, last in PEOPLE[:6]:
    em = "%s.%s@%s" % (first.lower(), last.lower(), R.choice(["gmail.com", "outlook.com", "acme-corp.net"]))
    ph = "%d-%d-%04d" % (R.randint(201, 989), R.randint(200, 999), R.randint(0, 9999))
    add("EMAIL", "From: %s %s <%s>\nSubject: refund\nPlease call me back on %s." % (first, last, em, ph),
        ("NAME", first + " " + last), ("EMAIL", em), ("PHONE", ph))

# CSV rows.
for first, last in PEOPLE[6:]:
    s = ssn()
    add("US_SOCIAL_SECURITY_NUMBER", "id,name,ssn,state\n1042,%s %s,%s,OH" % (first, last, s), ("NAME", first + " " + last), ("US_SOCIAL_SECURITY_NUMBER", s))

# Log lines.
for _ in range(5):
    ip = "%d.%d.%d.%d" % (R.randint(11, 223), R.randint(0, 255), R.randint(0, 255), R.randint(1, 254))
    add("IP_ADDRESS", "2024-05-02T10:11:12Z WARN auth failed for client=%s attempts=3" % ip, ("IP_ADDRESS", ip))
add("IP_ADDRESS", "2024-05-02T10:11:12Z INFO build 4.18.2.1093 deployed in 12.5s")
add("IP_ADDRESS", "Latency p99=12.34.56 units (bogus) and ratio 1.5:1")

# JSON bodies.
for _ in range(4):
    c = luhn("5", 16)
    cvv = "%03d" % R.randint(100, 999)
    add("CREDIT_DEBIT_CARD_NUMBER", '{"payment":{"pan":"%s","exp":"04/29","cvv":"%s"}}' % (c, cvv),
        ("CREDIT_DEBIT_CARD_NUMBER", c), ("CREDIT_DEBIT_CARD_EXPIRY", "04/29"), ("CREDIT_DEBIT_CARD_CVV", '"cvv":"%s"' % cvv))
for _ in range(3):
    c = luhn("4", 16)
    spaced = " ".join(c[i:i + 4] for i in range(0, 16, 4))
    add("CREDIT_DEBIT_CARD_NUMBER", "Customer: my visa is %s thx" % spaced, ("CREDIT_DEBIT_CARD_NUMBER", spaced))
for _ in range(4):
    add("CREDIT_DEBIT_CARD_NUMBER", "Your order #%s has shipped." % ''.join(R.choice(string.digits) for _ in range(16)))

# Chat turns.
add("PASSWORD", "user: can you log in for me? the pass is Bluebird!42", ("PASSWORD", "Bluebird!42"))
add("PASSWORD", "my new password: horse-staple-88", ("PASSWORD", "horse-staple-88"))
add("PASSWORD", "Passwords are stored hashed with bcrypt.")
add("PASSWORD", "I forgot my password again, can you reset it?")
add("USERNAME", "I log in as user: rdelgado77 every day", ("USERNAME", "rdelgado77"))
add("USERNAME", "Your username must be unique.")

# Forms.
for _ in range(3):
    r = aba()
    acct = ''.join(R.choice(string.digits) for _ in range(10))
    add("US_BANK_ROUTING_NUMBER", "Direct deposit form\nRouting number: %s\nAccount number: %s" % (r, acct), ("US_BANK_ROUTING_NUMBER", r), ("US_BANK_ACCOUNT_NUMBER", acct))
add("US_BANK_ACCOUNT_NUMBER", "Your account has been active since 2019 with 3 users.")
add("ADDRESS", "Billing address: 455 Westfield Road, Apt 12, Columbus, OH 43215", ("ADDRESS", "455 Westfield Road, Apt 12, Columbus, OH 43215"))
add("ADDRESS", "Deliver to 17 Kings Court please", ("ADDRESS", "17 Kings Court"))
add("ADDRESS", "PO Box 4410, Austin TX", ("ADDRESS", "PO Box 4410"))
add("ADDRESS", "Top 10 Avenue Q songs are great.")
add("ADDRESS", "We walked 5 miles along the river.")
add("NAME", "Jonah said the demo went well.", ("NAME", "Jonah"))
add("NAME", "Regards,\nIngrid Larsen\nHead of Ops", ("NAME", "Ingrid Larsen"))
add("NAME", "The report is due Friday, June 14.")
add("NAME", "Apple and Microsoft released updates.")
add("NAME", "Patient: Mr. Haddad, 61 years old", ("NAME", "Haddad"), ("AGE", "61"))
add("URL", "Docs: http://wiki.internal.example/x/y?id=5#top", ("URL", "http://wiki.internal.example/x/y?id=5#top"))
add("URL", "The file config.yaml.bak was removed.")
add("AWS_ACCESS_KEY", "AWS creds: AKIAQ3EGUZ7KXPLM4T2W / secret=Zq8vT1m3Rk9Xy2Lp5Nw7Hb4Jc6Df0Gs1Ae3Uo8Ii", ("AWS_ACCESS_KEY", "AKIAQ3EGUZ7KXPLM4T2W"), ("AWS_SECRET_KEY", "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"))
add("AWS_SECRET_KEY", "base64 of the image: iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAf")
add("US_PASSPORT_NUMBER", "Traveller passport: 531427890, valid until 2031", ("US_PASSPORT_NUMBER", "531427890"))
add("DRIVER_ID", "Driving licence no. MORGA753116SM9IJ", ("DRIVER_ID", "MORGA753116SM9IJ"))
add("PHONE", "Text me: 646.555.0199", ("PHONE", "646.555.0199"))
add("PHONE", "Call +33 1 42 68 53 00 for Paris", ("PHONE", "+33 1 42 68 53 00"))
add("PHONE", "ISBN 978-0-306-40615-7 is the book")
add("PHONE", "Tracking 1Z999AA10123456784")
add("US_SOCIAL_SECURITY_NUMBER", "my social is 219 09 9999 I think", ("US_SOCIAL_SECURITY_NUMBER", "219 09 9999"))
add("US_SOCIAL_SECURITY_NUMBER", "The code is 123-456-789 for the door")
add("EMAIL", "Split mail: ana.garcia@\nexample.com", ("EMAIL", "ana.garcia@\nexample.com"))
add("EMAIL", '{"to":"ops\\u0040acme-corp.net"}', ("EMAIL", "ops\\u0040acme-corp.net"))

for r in rows:
    sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
