namespace Basalt.Guardrails.Pii;

/// <summary>Check digits and number rules that separate real identifiers from look-alike digit runs.</summary>
internal static class PiiChecksums
{
    /// <summary>The digits of a span, separators dropped; false when there are more than <paramref name="digits"/>.Length.</summary>
    public static int Digits(ReadOnlySpan<char> text, Span<char> digits)
    {
        int n = 0;
        foreach (char c in text)
        {
            if (c is >= '0' and <= '9')
            {
                if (n == digits.Length)
                    return -1;
                digits[n++] = c;
            }
        }
        return n;
    }

    /// <summary>Luhn (mod 10): card numbers, Canadian SINs.</summary>
    public static bool Luhn(ReadOnlySpan<char> digits)
    {
        int sum = 0;
        bool doubleIt = false;
        for (int i = digits.Length - 1; i >= 0; i--)
        {
            int d = digits[i] - '0';
            if (doubleIt)
            {
                d *= 2;
                if (d > 9)
                    d -= 9;
            }
            sum += d;
            doubleIt = !doubleIt;
        }
        return digits.Length > 0 && sum % 10 == 0;
    }

    /// <summary>Whether a card number's issuer prefix and length belong to a real scheme (Visa, Mastercard, Amex,
    /// Discover, JCB, Diners, UnionPay, Maestro).</summary>
    public static bool CardPrefix(ReadOnlySpan<char> d)
    {
        int len = d.Length;
        int p2 = (d[0] - '0') * 10 + (d[1] - '0');
        int p4 = p2 * 100 + (d[2] - '0') * 10 + (d[3] - '0');
        return d[0] switch
        {
            '4' => len is 13 or 16 or 19,
            '5' => (p2 is >= 51 and <= 55 && len == 16) || (p2 is 50 or >= 56 and <= 58 && len is >= 12 and <= 19),
            '2' => p4 is >= 2221 and <= 2720 && len == 16,
            '3' => (p2 is 34 or 37 && len == 15) || (p2 == 35 && len is >= 16 and <= 19) || (p2 is 30 or 36 or 38 or 39 && len is >= 14 and <= 19),
            '6' => len is >= 16 and <= 19 && (p4 == 6011 || p2 is 62 or 64 or 65 || p4 is 6304 or 6759 or 6761 or 6762 or 6763),
            _ => false,
        };
    }

    /// <summary>US SSN rules: area not 000, 666 or 900-999; group not 00; serial not 0000.</summary>
    public static bool SsnRules(ReadOnlySpan<char> d)
    {
        if (d.Length != 9)
            return false;
        int area = int.Parse(d[..3]), group = int.Parse(d[3..5]), serial = int.Parse(d[5..]);
        return area is > 0 and not 666 and < 900 && group > 0 && serial > 0;
    }

    /// <summary>US ITIN: 9xx-[50-65|70-88|90-92|94-99]-xxxx.</summary>
    public static bool ItinRules(ReadOnlySpan<char> d)
    {
        if (d.Length != 9 || d[0] != '9')
            return false;
        int group = int.Parse(d[3..5]);
        return group is (>= 50 and <= 65) or (>= 70 and <= 88) or (>= 90 and <= 92) or (>= 94 and <= 99);
    }

    /// <summary>ABA routing number: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) ≡ 0 mod 10, with a Federal Reserve prefix.</summary>
    public static bool AbaRouting(ReadOnlySpan<char> d)
    {
        if (d.Length != 9)
            return false;
        int prefix = (d[0] - '0') * 10 + (d[1] - '0');
        if (prefix is not ((>= 0 and <= 12) or (>= 21 and <= 32) or (>= 61 and <= 72) or 80))
            return false;
        int sum = 0;
        for (int i = 0; i < 9; i += 3)
            sum += 3 * (d[i] - '0') + 7 * (d[i + 1] - '0') + (d[i + 2] - '0');
        return sum % 10 == 0 && !d.SequenceEqual("000000000");
    }

    /// <summary>IBAN: length 15-34 and the ISO 7064 mod-97 check (letters as 10..35, first four chars moved to the end).</summary>
    public static bool Iban(ReadOnlySpan<char> text)
    {
        Span<char> s = stackalloc char[40];
        int n = 0;
        foreach (char c in text)
        {
            if (c == ' ')
                continue;
            if (n == s.Length)
                return false;
            s[n++] = char.ToUpperInvariant(c);
        }
        if (n is < 15 or > 34)
            return false;
        int remainder = 0;
        for (int k = 0; k < n; k++)
        {
            char c = s[(k + 4) % n];
            if (c is >= '0' and <= '9')
                remainder = (remainder * 10 + (c - '0')) % 97;
            else if (c is >= 'A' and <= 'Z')
                remainder = (remainder * 100 + (c - 'A' + 10)) % 97;
            else
                return false;
        }
        return remainder == 1;
    }

    /// <summary>VIN check digit (position 9) per ISO 3779 / 49 CFR 565: transliterated values weighted 8,7,6,5,4,3,2,10,0,9..2.</summary>
    public static bool VinCheckDigit(ReadOnlySpan<char> vin)
    {
        if (vin.Length != 17)
            return false;
        ReadOnlySpan<int> weights = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
        int sum = 0;
        for (int i = 0; i < 17; i++)
        {
            int v = VinValue(char.ToUpperInvariant(vin[i]));
            if (v < 0)
                return false;
            sum += v * weights[i];
        }
        int check = sum % 11;
        char expected = check == 10 ? 'X' : (char)('0' + check);
        return char.ToUpperInvariant(vin[8]) == expected;
    }

    private static int VinValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        'A' or 'J' => 1, 'B' or 'K' or 'S' => 2, 'C' or 'L' or 'T' => 3, 'D' or 'M' or 'U' => 4,
        'E' or 'N' or 'V' => 5, 'F' or 'W' => 6, 'G' or 'P' or 'X' => 7, 'H' or 'Y' => 8, 'R' or 'Z' => 9,
        _ => -1,
    };

    /// <summary>UK NHS number: ten digits, weights 10..2 on the first nine, check = 11 - (sum mod 11) (11 → 0, 10 invalid).</summary>
    public static bool NhsNumber(ReadOnlySpan<char> d)
    {
        if (d.Length != 10)
            return false;
        int sum = 0;
        for (int i = 0; i < 9; i++)
            sum += (d[i] - '0') * (10 - i);
        int check = 11 - sum % 11;
        if (check == 11)
            check = 0;
        return check != 10 && check == d[9] - '0';
    }
}
