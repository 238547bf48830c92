using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Voice.Control.Phone;

/// <summary>What a dialled string is: a public number in E.164 form, or an internal extension of the PBX.</summary>
public enum PhoneNumberKind
{
    E164,
    Extension,
}

/// <summary>
/// A validated destination: an E.164 number (<c>+</c>, country calling code, national number; at most 15
/// digits) or a PBX extension (a short digit string, kept as written).
/// </summary>
public sealed record PhoneNumber
{
    private PhoneNumber(PhoneNumberKind kind, string value, string countryCode, string nationalNumber)
    {
        Kind = kind;
        Value = value;
        CountryCode = countryCode;
        NationalNumber = nationalNumber;
    }

    public PhoneNumberKind Kind { get; }

    /// <summary><c>+15551234567</c> for a number, <c>101</c> for an extension.</summary>
    public string Value { get; }

    /// <summary>The country calling code without '+' (<c>1</c>, <c>44</c>); empty for an extension.</summary>
    public string CountryCode { get; }

    /// <summary>The digits after the country code; the extension itself for an extension.</summary>
    public string NationalNumber { get; }

    public bool IsExtension => Kind == PhoneNumberKind.Extension;

    /// <summary>Parses a number as people write it, by <paramref name="rules"/>.</summary>
    /// <exception cref="FormatException">It is not a number we can dial; the message says why.</exception>
    public static PhoneNumber Parse(string input, PhoneNumberRules? rules = null) =>
        TryParse(input, rules, out var number, out var error) ? number : throw new FormatException(error);

    /// <summary>
    /// Accepts <c>+</c> or <c>00</c> international form with spaces, dots, dashes and parentheses; the
    /// original's US rules (10 digits → +1, 11 digits starting with 1 → +1); national numbers with the trunk
    /// prefix 0 when <see cref="PhoneNumberRules.DefaultCountryCode"/> is set; and extensions of up to
    /// <see cref="PhoneNumberRules.MaxExtensionLength"/> digits.
    /// </summary>
    public static bool TryParse(string? input, PhoneNumberRules? rules, [NotNullWhen(true)] out PhoneNumber? number, [NotNullWhen(false)] out string? error)
    {
        rules ??= PhoneNumberRules.Default;
        number = null;
        if (string.IsNullOrWhiteSpace(input))
        {
            error = "the number is empty";
            return false;
        }
        var trimmed = input.Trim();
        var international = trimmed.StartsWith('+');
        var digits = new StringBuilder(trimmed.Length);
        foreach (var c in international ? trimmed.AsSpan(1) : trimmed.AsSpan())
        {
            if (char.IsAsciiDigit(c))
            {
                digits.Append(c);
            }
            else if (c is not (' ' or '-' or '.' or '(' or ')' or '/'))
            {
                error = $"'{input}' contains '{Printable(c)}'; a number holds digits, an optional leading +, and spaces, dashes, dots or parentheses";
                return false;
            }
        }
        var d = digits.ToString();
        if (d.Length == 0)
        {
            error = $"'{input}' contains no digits";
            return false;
        }
        if (!international && d.StartsWith("00", StringComparison.Ordinal))
        {
            (international, d) = (true, d[2..]);
        }
        if (!international)
        {
            if (d.Length <= rules.MaxExtensionLength && d == trimmed)
            {
                number = new PhoneNumber(PhoneNumberKind.Extension, d, string.Empty, d);
                error = null;
                return true;
            }
            if (d.Length == 10 && d[0] is >= '2' and <= '9' && rules.UsTenDigitRule)
            {
                d = "1" + d;
            }
            else if (d.Length == 11 && d[0] == '1' && rules.UsTenDigitRule)
            {
                // already 1 + ten digits
            }
            else if (rules.DefaultCountryCode is { } home && d.StartsWith('0') && !d.StartsWith("00", StringComparison.Ordinal))
            {
                d = home + d[1..];
            }
            else
            {
                error = $"'{input}' has no country code; write it as +<country code><number>, e.g. +4930123456";
                return false;
            }
        }
        return TryE164(input, d, out number, out error);
    }

    private static bool TryE164(string input, string digits, [NotNullWhen(true)] out PhoneNumber? number, [NotNullWhen(false)] out string? error)
    {
        number = null;
        if (digits.Length > 15)
        {
            error = $"'{input}' has {digits.Length} digits; an international number has at most 15 (E.164)";
            return false;
        }
        var country = CountryCallingCodes.Match(digits);
        if (country is null)
        {
            error = $"'{input}' does not start with a country calling code in service";
            return false;
        }
        var national = digits[country.Length..];
        if (country == "1")
        {
            // North American Numbering Plan: ten digits, area code not starting with 0 or 1.
            if (national.Length != 10 || national[0] is '0' or '1')
            {
                error = $"'{input}' is not a North American number: +1 is followed by ten digits, the area code starting with 2-9";
                return false;
            }
        }
        else if (national.Length < 4)
        {
            error = $"'{input}' is too short for a number in country code +{country}";
            return false;
        }
        number = new PhoneNumber(PhoneNumberKind.E164, "+" + digits, country, national);
        error = null;
        return true;
    }

    /// <summary>For people: <c>+1 (555) 123-4567</c> for North America, <c>+44 2079460000</c> elsewhere, an extension as is.</summary>
    public string ToDisplayString() => Kind switch
    {
        PhoneNumberKind.Extension => Value,
        _ when CountryCode == "1" => $"+1 ({NationalNumber[..3]}) {NationalNumber[3..6]}-{NationalNumber[6..]}",
        _ => $"+{CountryCode} {NationalNumber}",
    };

    public override string ToString() => Value;

    private static string Printable(char c) => char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString();
}
