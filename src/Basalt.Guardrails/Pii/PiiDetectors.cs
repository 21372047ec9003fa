using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Basalt.Guardrails.Pii;

/// <summary>A detected entity in <see cref="PiiText.Text"/> coordinates, before overlaps are resolved.</summary>
internal readonly record struct PiiCandidate(string Type, int Start, int Length, int Priority)
{
    public int End => Start + Length;
}

/// <summary>Bedrock's PII entity types.</summary>
public static class PiiEntityTypes
{
    /// <summary>Every type of Bedrock's GuardrailPiiEntityType enum, all of which this policy detects.</summary>
    public static readonly IReadOnlyList<string> All =
    [
        "ADDRESS", "AGE", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "CA_HEALTH_NUMBER", "CA_SOCIAL_INSURANCE_NUMBER",
        "CREDIT_DEBIT_CARD_CVV", "CREDIT_DEBIT_CARD_EXPIRY", "CREDIT_DEBIT_CARD_NUMBER", "DRIVER_ID", "EMAIL",
        "INTERNATIONAL_BANK_ACCOUNT_NUMBER", "IP_ADDRESS", "LICENSE_PLATE", "MAC_ADDRESS", "NAME", "PASSWORD", "PHONE",
        "PIN", "SWIFT_CODE", "UK_NATIONAL_HEALTH_SERVICE_NUMBER", "UK_NATIONAL_INSURANCE_NUMBER",
        "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER", "URL", "USERNAME", "US_BANK_ACCOUNT_NUMBER", "US_BANK_ROUTING_NUMBER",
        "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER", "US_PASSPORT_NUMBER", "US_SOCIAL_SECURITY_NUMBER",
        "VEHICLE_IDENTIFICATION_NUMBER",
    ];
}

/// <summary>The detectors of each PII type: a bounded pattern finds candidates, then checksums (Luhn, SSN rules, ABA,
/// mod-97, VIN, NHS mod-11) and context words ("SSN", "routing", "passport") keep the ones that are real.</summary>
internal static class PiiDetectors
{
    // How far before a match a context word counts ("my social security number is 123456789").
    private const int ContextWindow = 48;

    /// <summary>Appends the candidates of every type in <paramref name="wanted"/>.</summary>
    public static void Detect(string text, IReadOnlySet<string> wanted, List<PiiCandidate> found)
    {
        foreach (string type in wanted)
        {
            switch (type)
            {
                case "EMAIL": Simple(text, PiiPatterns.Email(), type, 80, found); break;
                case "PHONE": Phone(text, found); break;
                case "US_SOCIAL_SECURITY_NUMBER": Ssn(text, found); break;
                case "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER": Itin(text, found); break;
                case "CREDIT_DEBIT_CARD_NUMBER": Card(text, found); break;
                case "IP_ADDRESS": Ip(text, found); break;
                case "URL": Url(text, found); break;
                case "AWS_ACCESS_KEY": Simple(text, PiiPatterns.AwsAccessKey(), type, 95, found); break;
                case "AWS_SECRET_KEY": AwsSecret(text, found); break;
                case "US_BANK_ACCOUNT_NUMBER": BankAccount(text, found); break;
                case "US_BANK_ROUTING_NUMBER": Routing(text, found); break;
                case "PASSWORD": Value(text, PiiPatterns.Password(), type, 70, found, PasswordLike); break;
                case "USERNAME": Value(text, PiiPatterns.Username(), type, 60, found, NotAStopWord); break;
                case "DRIVER_ID": Value(text, PiiPatterns.DriverId(), type, 65, found, HasDigit); break;
                case "US_PASSPORT_NUMBER": Value(text, PiiPatterns.Passport(), type, 75, found, null); break;
                case "NAME": NameDetector.Detect(text, found); break;
                case "ADDRESS": Simple(text, PiiPatterns.Address(), type, 50, found); break;
                case "AGE": Value(text, PiiPatterns.Age(), type, 20, found, v => int.TryParse(v, out int a) && a <= 125); break;
                case "PIN": Value(text, PiiPatterns.Pin(), type, 55, found, null); break;
                case "MAC_ADDRESS": Simple(text, PiiPatterns.Mac(), type, 85, found); break;
                case "INTERNATIONAL_BANK_ACCOUNT_NUMBER": Checked(text, PiiPatterns.Iban(), type, 92, found, IsIban); break;
                case "VEHICLE_IDENTIFICATION_NUMBER": Vin(text, found); break;
                case "CREDIT_DEBIT_CARD_CVV": Value(text, PiiPatterns.Cvv(), type, 56, found, null); break;
                case "CREDIT_DEBIT_CARD_EXPIRY": Expiry(text, found); break;
                case "UK_NATIONAL_INSURANCE_NUMBER": Simple(text, PiiPatterns.UkNino(), type, 80, found); break;
                case "UK_NATIONAL_HEALTH_SERVICE_NUMBER": Contextual(text, PiiPatterns.TenDigits334(), type, 84, found, ["nhs", "health service"], PiiChecksums.NhsNumber); break;
                case "CA_SOCIAL_INSURANCE_NUMBER": Contextual(text, PiiPatterns.NineDigits333(), type, 84, found, ["sin", "social insurance", "nas"], d => PiiChecksums.Luhn(d)); break;
                case "CA_HEALTH_NUMBER": Contextual(text, PiiPatterns.CaHealth(), type, 83, found, ["health card", "health number", "ohip", "health insurance number", "hcn", "carte santé", "ramq"], null); break;
                case "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER": Contextual(text, PiiPatterns.Utr(), type, 83, found, ["utr", "unique taxpayer", "tax reference", "taxpayer reference"], null); break;
                case "SWIFT_CODE": Contextual(text, PiiPatterns.Swift(), type, 60, found, ["swift", "bic", "bank identifier"], null); break;
                case "LICENSE_PLATE": Value(text, PiiPatterns.LicensePlate(), type, 45, found, HasDigit); break;
            }
        }
    }

    private static void Simple(string text, Regex regex, string type, int priority, List<PiiCandidate> found)
    {
        foreach (ValueMatch m in regex.EnumerateMatches(text))
            found.Add(new PiiCandidate(type, m.Index, TrimEnd(text, m.Index, m.Length), priority));
    }

    private static void Checked(string text, Regex regex, string type, int priority, List<PiiCandidate> found, Func<string, bool> check)
    {
        foreach (ValueMatch m in regex.EnumerateMatches(text))
        {
            if (check(text.Substring(m.Index, m.Length)))
                found.Add(new PiiCandidate(type, m.Index, m.Length, priority));
        }
    }

    // A value after a keyword ("password: hunter2"): the candidate is the value only (group "v").
    private static void Value(string text, Regex regex, string type, int priority, List<PiiCandidate> found, Func<string, bool>? check)
    {
        for (Match m = regex.Match(text); m.Success; m = m.NextMatch())
        {
            Group v = m.Groups["v"];
            if (!v.Success)
                continue;
            int length = TrimEnd(text, v.Index, v.Length);
            if (length > 0 && (check is null || check(text.Substring(v.Index, length))))
                found.Add(new PiiCandidate(type, v.Index, length, priority));
        }
    }

    // A number that means this type only near one of its context words ("NHS number 943 476 5919").
    private static void Contextual(string text, Regex regex, string type, int priority, List<PiiCandidate> found,
        string[] context, Func<ReadOnlySpan<char>, bool>? digitsCheck)
    {
        Span<char> digits = stackalloc char[32];
        foreach (ValueMatch m in regex.EnumerateMatches(text))
        {
            if (!HasContext(text, m.Index, context))
                continue;
            if (digitsCheck is not null)
            {
                int n = PiiChecksums.Digits(text.AsSpan(m.Index, m.Length), digits);
                if (n < 0 || !digitsCheck(digits[..n]))
                    continue;
            }
            found.Add(new PiiCandidate(type, m.Index, m.Length, priority));
        }
    }

    private static readonly string[] PhoneWords = ["phone", "call", "tel", "mobile", "cell", "fax", "contact", "reach", "text", "sms", "whatsapp", "dial"];
    private static readonly string[] PhoneContext = [.. PhoneWords, "number"];

    // Identifiers that share a phone's shape: after one of these words the digits are that identifier, not a phone.
    private static readonly string[] OtherIdContext = ["nhs", "account", "acct", "invoice", "order", "ssn", "routing", "passport", "isbn", "ticket", "tracking", "serial", "sin", "insurance", "health", "license", "licence", "reference", "ref"];

    private static void Phone(string text, List<PiiCandidate> found)
    {
        Span<char> digits = stackalloc char[24];
        foreach (ValueMatch m in PiiPatterns.NanpPhone().EnumerateMatches(text))
        {
            int n = PiiChecksums.Digits(text.AsSpan(m.Index, m.Length), digits);
            if (n is not (10 or 11))
                continue;
            // Ten bare digits are a phone only when called one; formatted ones unless another identifier is named.
            bool formatted = n != m.Length;
            if (HasContext(text, m.Index, OtherIdContext, window: 24) && !HasContext(text, m.Index, PhoneWords, window: 16))
                continue;
            if (formatted || HasContext(text, m.Index, PhoneContext, window: 32))
                found.Add(new PiiCandidate("PHONE", m.Index, m.Length, 40));
        }
        foreach (ValueMatch m in PiiPatterns.IntlPhone().EnumerateMatches(text))
        {
            int n = PiiChecksums.Digits(text.AsSpan(m.Index, m.Length), digits);
            if (n is >= 8 and <= 15)
                found.Add(new PiiCandidate("PHONE", m.Index, m.Length, 41));
        }
    }

    private static void Ssn(string text, List<PiiCandidate> found)
    {
        Span<char> digits = stackalloc char[16];
        foreach (ValueMatch m in PiiPatterns.Ssn().EnumerateMatches(text))
        {
            int n = PiiChecksums.Digits(text.AsSpan(m.Index, m.Length), digits);
            if (n != 9 || !PiiChecksums.SsnRules(digits[..n]))
                continue;
            // 123-45-6789 is an SSN by its shape; nine bare digits or spaced groups only with a context word.
            bool dashed = text.AsSpan(m.Index, m.Length).Contains('-');
            if (dashed || HasContext(text, m.Index, SsnContext))
                found.Add(new PiiCandidate("US_SOCIAL_SECURITY_NUMBER", m.Index, m.Length, 86));
        }
    }

    private static readonly string[] SsnContext = ["ssn", "social security", "social sec", "ss#", "ss #", "ssa", "tax id", "taxpayer"];

    private static void Itin(string text, List<PiiCandidate> found)
    {
        Span<char> digits = stackalloc char[16];
        foreach (ValueMatch m in PiiPatterns.Ssn().EnumerateMatches(text))
        {
            int n = PiiChecksums.Digits(text.AsSpan(m.Index, m.Length), digits);
            if (n == 9 && PiiChecksums.ItinRules(digits[..n])
                && (text.AsSpan(m.Index, m.Length).Contains('-') || HasContext(text, m.Index, ["itin", "taxpayer", "tax id"])))
                found.Add(new PiiCandidate("US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER", m.Index, m.Length, 86));
        }
    }

    private static void Card(string text, List<PiiCandidate> found)
    {
        Span<char> digits = stackalloc char[32];
        foreach (ValueMatch m in PiiPatterns.CardLike().EnumerateMatches(text))
        {
            int n = PiiChecksums.Digits(text.AsSpan(m.Index, m.Length), digits);
            if (n is >= 12 and <= 19 && PiiChecksums.Luhn(digits[..n]) && PiiChecksums.CardPrefix(digits[..n]))
                found.Add(new PiiCandidate("CREDIT_DEBIT_CARD_NUMBER", m.Index, m.Length, 90));
        }
    }

    private static void Ip(string text, List<PiiCandidate> found)
    {
        foreach (ValueMatch m in PiiPatterns.IPv4().EnumerateMatches(text))
        {
            // "version 1.2.3.4" and "v1.2.3.4" are versions, not addresses.
            if (HasContext(text, m.Index, ["version", "v", "ver."], window: 10) && !HasContext(text, m.Index, ["ip", "address", "host", "server"], window: 24))
                continue;
            found.Add(new PiiCandidate("IP_ADDRESS", m.Index, m.Length, 82));
        }
        // IPv6: each maximal run of hex digits and colons with two or more colons is parsed. Times ("12:30:45") and
        // labels are not addresses: an IPv6 address has eight groups or a "::".
        int i = 0;
        while (i < text.Length)
        {
            if (!char.IsAsciiHexDigit(text[i]) && text[i] != ':')
            {
                i++;
                continue;
            }
            int start = i;
            int colons = 0;
            while (i < text.Length && (char.IsAsciiHexDigit(text[i]) || text[i] == ':'))
                colons += text[i++] == ':' ? 1 : 0;
            bool bounded = (start == 0 || !char.IsLetterOrDigit(text[start - 1])) && (i == text.Length || !char.IsLetterOrDigit(text[i]));
            if (!bounded || colons < 2 || i - start is < 3 or > 39)
                continue;
            ReadOnlySpan<char> candidate = text.AsSpan(start, i - start);
            if ((colons == 7 || candidate.Contains("::", StringComparison.Ordinal))
                && IPAddress.TryParse(candidate, out IPAddress? address) && address.AddressFamily == AddressFamily.InterNetworkV6)
                found.Add(new PiiCandidate("IP_ADDRESS", start, candidate.Length, 82));
        }
    }

    private static void Url(string text, List<PiiCandidate> found)
    {
        foreach (ValueMatch m in PiiPatterns.Url().EnumerateMatches(text))
        {
            int length = TrimEnd(text, m.Index, m.Length);
            // Closing brackets belong to the URL only when it opened them ("...wiki/Foo_(bar)").
            while (length > 0 && text[m.Index + length - 1] == ')' && text.AsSpan(m.Index, length).Count('(') < text.AsSpan(m.Index, length).Count(')'))
                length--;
            if (length > 4)
                found.Add(new PiiCandidate("URL", m.Index, length, 88));
        }
    }

    private static void AwsSecret(string text, List<PiiCandidate> found)
    {
        foreach (ValueMatch m in PiiPatterns.AwsSecretLike().EnumerateMatches(text))
        {
            ReadOnlySpan<char> s = text.AsSpan(m.Index, m.Length);
            bool upper = false, lower = false, digit = false, symbol = false;
            foreach (char c in s)
            {
                upper |= char.IsAsciiLetterUpper(c);
                lower |= char.IsAsciiLetterLower(c);
                digit |= char.IsAsciiDigit(c);
                symbol |= c is '/' or '+';
            }
            // A secret key is random base64: mixed case and digits. A lowercase hex digest (git SHA-1) is not.
            if (!(upper && lower && digit))
                continue;
            if (symbol || HasContext(text, m.Index, ["secret", "aws_secret", "secretaccesskey", "secret_access_key", "secret key", "aws"], window: 64))
                found.Add(new PiiCandidate("AWS_SECRET_KEY", m.Index, m.Length, 94));
        }
    }

    private static readonly string[] AccountContext = ["account", "acct", "a/c", "acc no", "acc. no", "acc #", "checking", "savings"];

    private static void BankAccount(string text, List<PiiCandidate> found)
    {
        foreach (ValueMatch m in PiiPatterns.AccountLike().EnumerateMatches(text))
        {
            if (HasContext(text, m.Index, AccountContext, window: 32) && !HasContext(text, m.Index, ["routing", "aba", "card"], window: 20)
                && !LooksLikeDate(text.AsSpan(m.Index, m.Length)))
                found.Add(new PiiCandidate("US_BANK_ACCOUNT_NUMBER", m.Index, m.Length, 35));
        }
    }

    private static void Routing(string text, List<PiiCandidate> found)
    {
        foreach (ValueMatch m in PiiPatterns.NineDigits().EnumerateMatches(text))
        {
            if (PiiChecksums.AbaRouting(text.AsSpan(m.Index, m.Length)) && HasContext(text, m.Index, ["routing", "aba", "rtn", "transit", "bank code"]))
                found.Add(new PiiCandidate("US_BANK_ROUTING_NUMBER", m.Index, m.Length, 87));
        }
    }

    private static void Vin(string text, List<PiiCandidate> found)
    {
        foreach (ValueMatch m in PiiPatterns.Vin().EnumerateMatches(text))
        {
            ReadOnlySpan<char> vin = text.AsSpan(m.Index, m.Length);
            bool letter = false, digit = false;
            foreach (char c in vin)
            {
                letter |= char.IsAsciiLetter(c);
                digit |= char.IsAsciiDigit(c);
            }
            if (letter && digit && (PiiChecksums.VinCheckDigit(vin) || HasContext(text, m.Index, ["vin", "vehicle identification", "chassis"])))
                found.Add(new PiiCandidate("VEHICLE_IDENTIFICATION_NUMBER", m.Index, m.Length, 78));
        }
    }

    private static void Expiry(string text, List<PiiCandidate> found)
    {
        Value(text, PiiPatterns.Expiry(), "CREDIT_DEBIT_CARD_EXPIRY", 56, found, null);
        // A bare MM/YY right after a card number is its expiry.
        foreach (ValueMatch m in PiiPatterns.ExpiryLike().EnumerateMatches(text))
        {
            int from = Math.Max(0, m.Index - 40);
            if (PiiPatterns.CardLike().IsMatch(text.AsSpan(from, m.Index - from)))
                found.Add(new PiiCandidate("CREDIT_DEBIT_CARD_EXPIRY", m.Index, m.Length, 55));
        }
    }

    // 20230115: a compact date, not an account number.
    private static bool LooksLikeDate(ReadOnlySpan<char> s) =>
        s.Length == 8 && s[..2] is "19" or "20" && int.TryParse(s[4..6], out int month) && month is >= 1 and <= 12
        && int.TryParse(s[6..], out int day) && day is >= 1 and <= 31;

    // IBAN lengths per country (ISO 13616 registry, the countries most often seen); other codes are not IBANs.
    private static readonly Dictionary<string, int> IbanLengths = new(StringComparer.Ordinal)
    {
        ["AD"] = 24, ["AE"] = 23, ["AT"] = 20, ["BE"] = 16, ["BG"] = 22, ["BH"] = 22, ["BR"] = 29, ["CH"] = 21, ["CY"] = 28,
        ["CZ"] = 24, ["DE"] = 22, ["DK"] = 18, ["EE"] = 20, ["ES"] = 24, ["FI"] = 18, ["FR"] = 27, ["GB"] = 22, ["GR"] = 27,
        ["HR"] = 21, ["HU"] = 28, ["IE"] = 22, ["IL"] = 23, ["IS"] = 26, ["IT"] = 27, ["LI"] = 21, ["LT"] = 20, ["LU"] = 20,
        ["LV"] = 21, ["MC"] = 27, ["MT"] = 31, ["NL"] = 18, ["NO"] = 15, ["PK"] = 24, ["PL"] = 28, ["PT"] = 25, ["QA"] = 29,
        ["RO"] = 24, ["RS"] = 22, ["SA"] = 24, ["SE"] = 24, ["SI"] = 19, ["SK"] = 24, ["SM"] = 27, ["TR"] = 26, ["UA"] = 29,
    };

    private static bool IsIban(string candidate)
    {
        int length = 0;
        foreach (char c in candidate)
        {
            if (c != ' ')
                length++;
        }
        return IbanLengths.TryGetValue(candidate[..2], out int expected) && expected == length && PiiChecksums.Iban(candidate);
    }

    private static bool PasswordLike(string value) =>
        !StopWords.Contains(value) && (value.Any(c => !char.IsLetter(c)) || value.Any(char.IsUpper) || value.Length >= 6 && !CommonPasswordWords.Contains(value));

    private static readonly HashSet<string> CommonPasswordWords = new(StringComparer.OrdinalIgnoreCase)
    {
        "required", "incorrect", "invalid", "expired", "protected", "policy", "policies", "manager", "managers", "reset",
        "change", "changed", "strength", "strong", "secure", "security", "length", "field", "hashed", "hashing", "encrypted",
        "stored", "correct", "wrong", "forgotten", "missing", "optional", "ignored", "masked", "hidden", "updated",
    };

    private static bool NotAStopWord(string value) => !StopWords.Contains(value);

    private static readonly HashSet<string> StopWords = new(StringComparer.OrdinalIgnoreCase)
    {
        "the", "and", "not", "was", "too", "for", "you", "your", "our", "their", "his", "her", "this", "that", "which", "what",
        "required", "empty", "null", "none", "unknown", "missing", "invalid", "blank", "needed", "set", "same", "below", "above",
    };

    private static bool HasDigit(string value) => value.Any(char.IsAsciiDigit);

    // Trailing sentence punctuation is not part of an identifier.
    private static int TrimEnd(string text, int start, int length)
    {
        while (length > 0 && text[start + length - 1] is '.' or ',' or ';' or ':' or '!' or '?' or '\'' or '"')
            length--;
        return length;
    }

    /// <summary>Whether one of <paramref name="words"/> occurs (case-insensitive, at a word start) in the
    /// <paramref name="window"/> characters before <paramref name="index"/>.</summary>
    public static bool HasContext(string text, int index, string[] words, int window = ContextWindow)
    {
        int from = Math.Max(0, index - window);
        ReadOnlySpan<char> before = text.AsSpan(from, index - from);
        foreach (string word in words)
        {
            int at = 0;
            while (at <= before.Length - word.Length)
            {
                int hit = before[at..].IndexOf(word, StringComparison.OrdinalIgnoreCase);
                if (hit < 0)
                    break;
                int pos = at + hit;
                bool startOk = pos == 0 ? from == 0 || !char.IsLetterOrDigit(text[from - 1]) : !char.IsLetterOrDigit(before[pos - 1]);
                int endPos = pos + word.Length;
                bool endOk = endPos >= before.Length || !char.IsLetter(before[endPos]) || word.Length > 3;
                if (startOk && endOk)
                    return true;
                at = pos + 1;
            }
        }
        return false;
    }
}
