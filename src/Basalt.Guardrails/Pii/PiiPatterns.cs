using System.Text.RegularExpressions;

namespace Basalt.Guardrails.Pii;

/// <summary>The source-generated patterns of the PII detectors. Every repetition is bounded or separated by a required
/// character class, so matching is linear in the text (no nested unbounded quantifiers over the same characters).
/// Separators inside numbers accept whitespace including newlines: PII split across lines is still one match.</summary>
internal static partial class PiiPatterns
{
    [GeneratedRegex(@"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![\w-])")]
    public static partial Regex Email();

    // North American numbers: optional +1, area code and exchange 2-9xx, separators incl. newlines.
    [GeneratedRegex(@"(?<![\w+])(?:\+?1[ \t.-]?)?(?:\([2-9]\d{2}\)|[2-9]\d{2})[\s.-]{0,2}[2-9]\d{2}[\s.-]{0,2}\d{4}(?![\w])")]
    public static partial Regex NanpPhone();

    // International: +CC then 6-12 more digits in groups.
    [GeneratedRegex(@"(?<![\w+])\+[1-9]\d{0,2}[ \t.-]?(?:\(?\d{1,4}\)?[ \t.-]?){1,5}\d{2,4}(?![\w])")]
    public static partial Regex IntlPhone();

    [GeneratedRegex(@"(?<![\w-])\d{3}([ \t-]?|\s*-\s*)\d{2}\1\d{4}(?![\w-])")]
    public static partial Regex Ssn();

    [GeneratedRegex(@"(?<![\w-])\d(?:[\s-]{0,2}\d){11,18}(?![\w-])")]
    public static partial Regex CardLike();

    [GeneratedRegex(@"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w]|\.\d)")]
    public static partial Regex IPv4();

    [GeneratedRegex(@"\b(?:(?:https?|ftp)://|www\.)[^\s<>""'`\\\]\[{}|]{2,2048}", RegexOptions.IgnoreCase)]
    public static partial Regex Url();

    [GeneratedRegex(@"(?<![A-Za-z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])")]
    public static partial Regex AwsAccessKey();

    [GeneratedRegex(@"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")]
    public static partial Regex AwsSecretLike();

    [GeneratedRegex(@"(?<![\w-])\d(?:[ -]?\d){7,16}(?![\w-])")]
    public static partial Regex AccountLike();

    [GeneratedRegex(@"(?<![\w-])\d{9}(?![\w-])")]
    public static partial Regex NineDigits();

    [GeneratedRegex(@"\b(?:password|passwd|pwd|passcode|pass ?phrase|pw)\b[""']?\s{0,3}(?:(?:is|was|=|:|-|to)\s{0,3}){1,2}[""']?(?<v>[^\s""',;]{3,64})", RegexOptions.IgnoreCase)]
    public static partial Regex Password();

    [GeneratedRegex(@"\b(?:user ?name|user ?id|login(?: ?name| ?id)?|handle|screen ?name)\b[""']?\s{0,3}(?:(?:is|was|=|:|-)\s{0,3}){1,2}[""']?(?<v>[A-Za-z0-9][A-Za-z0-9._@-]{2,63})|\buser\s{0,3}[:=]\s{0,3}[""']?(?<v>[A-Za-z0-9][A-Za-z0-9._@-]{2,63})", RegexOptions.IgnoreCase)]
    public static partial Regex Username();

    [GeneratedRegex(@"\b(?:driver'?s?|driving)\s{0,3}licen[cs]e(?:\s{0,3}(?:number|no\.?|#|id))?\s{0,3}(?:(?:is|was|:|=|-)\s{0,3}){0,2}(?<v>[A-Z0-9][A-Z0-9-]{3,19})\b|\b(?:DL|DLN|licen[cs]e\s{0,3}(?:number|no\.?|#))\s{0,3}(?:(?:is|was|:|=|-|\#|no\.?|number)\s{0,3}){0,2}(?<v>[A-Z0-9][A-Z0-9-]{3,19})\b", RegexOptions.IgnoreCase)]
    public static partial Regex DriverId();

    [GeneratedRegex(@"\bpassport\b(?:\s{0,3}(?:number|no\.?|#|id))?[^.\n\d]{0,30}?(?<v>\b[A-Z]?\d{8,9})\b", RegexOptions.IgnoreCase)]
    public static partial Regex Passport();

    [GeneratedRegex(@"\b(?:P\.?\s?O\.?\s?Box\s{1,3}\d{1,6}|\d{1,6}[A-Za-z]?\s{1,3}(?:(?:[NSEW]|North|South|East|West|N\.|S\.|E\.|W\.)\s{1,3})?(?:[A-Z0-9][A-Za-z0-9'.-]*\s{1,3}){1,4}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|Parkway|Pkwy|Circle|Cir|Highway|Hwy|Square|Sq|Trail|Trl|Plaza|Alley|Row|Crescent|Close|Broadway)\b\.?)(?:,?\s{1,3}(?:Apt|Apartment|Suite|Ste|Unit|Floor|Fl|#)\.?\s{0,3}#?[A-Za-z0-9-]{1,6})?(?:,\s{0,3}[A-Z][A-Za-z]+(?:[ -][A-Z][A-Za-z]+){0,2})?(?:,?\s{1,3}[A-Z]{2}\b)?(?:\s{1,3}\d{5}(?:-\d{4})?\b)?")]
    public static partial Regex Address();

    [GeneratedRegex(@"\b(?:age[ds]?|aged)\s{0,3}(?:is|was|:|of|=)?\s{0,3}(?<v>\d{1,3})\b|\b(?<v>\d{1,3})[\s-]{0,2}(?:years?|yrs?)[\s-]{0,2}old\b|\b(?<v>\d{1,3})\s?(?:y/o|yo)\b", RegexOptions.IgnoreCase)]
    public static partial Regex Age();

    [GeneratedRegex(@"\bPIN\b(?:\s{0,3}(?:code|number|no\.?))?[""']?\s{0,3}(?:(?:is|was|:|=|-)\s{0,3}){0,2}[""']?(?<v>\d{4,8})\b", RegexOptions.IgnoreCase)]
    public static partial Regex Pin();

    [GeneratedRegex(@"(?<![\w:-])[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?![\w:-])|\b[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\b")]
    public static partial Regex Mac();

    [GeneratedRegex(@"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")]
    public static partial Regex Iban();

    [GeneratedRegex(@"\b[A-HJ-NPR-Z0-9]{17}\b", RegexOptions.IgnoreCase)]
    public static partial Regex Vin();

    [GeneratedRegex(@"\b(?:CVV2?|CVC2?|CID|CSC|security code|card verification(?: value| code)?)\b(?:\s{0,3}(?:code|number|no\.?))?[""']?\s{0,3}(?:(?:is|was|:|=|-|#)\s{0,3}){0,2}[""']?(?<v>\d{3,4})\b", RegexOptions.IgnoreCase)]
    public static partial Regex Cvv();

    [GeneratedRegex(@"\b(?:exp(?:iry|iration|ires|\.)?(?:\s{0,3}date)?|valid\s{0,3}(?:thru|through|until))[""']?\s{0,3}(?:(?:is|on|:|-)\s{0,3}){0,2}[""']?(?<v>(?:0[1-9]|1[0-2])\s{0,2}[/-]\s{0,2}(?:20\d{2}|\d{2}))\b", RegexOptions.IgnoreCase)]
    public static partial Regex Expiry();

    [GeneratedRegex(@"\b(?:0[1-9]|1[0-2])/(?:\d{2}|20\d{2})\b")]
    public static partial Regex ExpiryLike();

    [GeneratedRegex(@"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")]
    public static partial Regex UkNino();

    [GeneratedRegex(@"(?<![\w-])\d{3}[ -]?\d{3}[ -]?\d{4}(?![\w-])")]
    public static partial Regex TenDigits334();

    [GeneratedRegex(@"(?<![\w-])\d{3}[ -]?\d{3}[ -]?\d{3}(?![\w-])")]
    public static partial Regex NineDigits333();

    [GeneratedRegex(@"\b[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?\b")]
    public static partial Regex Swift();

    [GeneratedRegex(@"(?<![\w-])\d{5} ?\d{5}K?(?![\w-])")]
    public static partial Regex Utr();

    [GeneratedRegex(@"\b(?:licen[cs]e|number|registration|reg\.?)\s{0,3}plate(?:\s{0,3}(?:number|no\.?|#))?\s{0,3}(?:(?:is|was|:|=|-)\s{0,3}){0,2}(?<v>[A-Z0-9]{1,4}[ -]?[A-Z0-9]{1,4}[ -]?[A-Z0-9]{0,4})\b|\bplate\s{0,3}(?:number|no\.?|#)?\s{0,3}(?:is|:)\s{0,3}(?<v>[A-Z0-9]{1,4}[ -]?[A-Z0-9]{1,4}[ -]?[A-Z0-9]{0,4})\b", RegexOptions.IgnoreCase)]
    public static partial Regex LicensePlate();

    [GeneratedRegex(@"(?<![\w-])\d{4}[ -]?\d{3}[ -]?\d{3}(?:[ -]?[A-Z]{2})?(?![\w-])")]
    public static partial Regex CaHealth();

    // Capitalized words (names), with an optional middle initial handled by the NAME detector.
    [GeneratedRegex(@"\b[A-Z][a-z]+(?:['-][A-Z]?[a-z]+)?\b|\b[A-Z]\.(?=\s)")]
    public static partial Regex CapitalizedWord();
}
