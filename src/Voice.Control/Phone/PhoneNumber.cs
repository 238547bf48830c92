using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using PhoneNumbers;

namespace Voice.Control.Phone;

/// <summary>What a dialled string is: a public number in E.164 form, or an internal extension of the PBX.</summary>
public enum PhoneNumberKind
{
    E164,
    Extension,
}

/// <summary>
/// A validated destination: an E.164 number (<c>+</c>, country calling code, national number) or a PBX extension
/// (a short digit string, kept as written). Numbers are read, checked and formatted with libphonenumber's
/// metadata: a number must have a length its country's numbering plan allows (<c>+441234</c> does not), but
/// need not be assigned, so the fictional <c>+1 555 …</c> numbers of examples and tests are accepted.
/// </summary>
public sealed record PhoneNumber
{
    private static readonly PhoneNumberUtil Util = PhoneNumberUtil.GetInstance();

    private NumberType? _type;

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

    /// <summary>The digits after the country code (an Italian fixed line's leading 0 included); the extension itself for an extension.</summary>
    public string NationalNumber { get; }

    public bool IsExtension => Kind == PhoneNumberKind.Extension;

    /// <summary>The kind of line by the country's numbering plan (premium rate, mobile…); <see cref="NumberType.Unknown"/> for an extension.</summary>
    public NumberType Type => _type ??= IsExtension ? NumberType.Unknown : TypeOf(Util.GetNumberType(Parsed()));

    /// <summary>Parses a number as people write it, by <paramref name="rules"/>.</summary>
    /// <exception cref="FormatException">It is not a number we can dial; the message says why.</exception>
    public static PhoneNumber Parse(string input, PhoneNumberRules? rules = null) =>
        TryParse(input, rules, out var number, out var error) ? number : throw new FormatException(error);

    /// <summary>
    /// Accepts <c>+</c> or <c>00</c> international form with spaces, dots, dashes and parentheses; the
    /// original's US rules (10 digits → +1, 11 digits starting with 1 → +1); national numbers of
    /// <see cref="PhoneNumberRules.DefaultCountryCode"/> as people there write them; and extensions of up to
    /// <see cref="PhoneNumberRules.MaxExtensionLength"/> digits.
    /// </summary>
    public static bool TryParse(string? input, PhoneNumberRules? rules, [NotNullWhen(true)] out PhoneNumber? number, [NotNullWhen(false)] out string? error)
    {
        rules ??= PhoneNumberRules.Default;
        if (t_last is { } last && ReferenceEquals(last.Rules, rules) && string.Equals(last.Input, input, StringComparison.Ordinal))
        {
            number = last.Number;
            error = null;
            return true;
        }
        if (!TryParseCore(input, rules, out number, out error))
        {
            return false;
        }
        t_last = (input!, rules, number);
        return true;
    }

    /// <summary>
    /// The last number this thread read, and how: a request reads its destination more than once (its validation, the
    /// call it places, the check of the call), and each read went through libphonenumber again. A number reads the same
    /// by the same rules every time, so the last one is answered from here.
    /// </summary>
    [ThreadStatic]
    private static (string Input, PhoneNumberRules Rules, PhoneNumber Number)? t_last;

    private static bool TryParseCore(string? input, PhoneNumberRules rules, [NotNullWhen(true)] out PhoneNumber? number, [NotNullWhen(false)] out string? error)
    {
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
            else if (rules.DefaultCountryCode is { } home)
            {
                return TryNational(input, d, home, out number, out error);
            }
            else
            {
                error = $"'{input}' has no country code; write it as +<country code><number>, e.g. +4930123456";
                return false;
            }
        }
        if (d.Length > 15)
        {
            error = $"'{input}' has {d.Length} digits; an international number has at most 15 (E.164)";
            return false;
        }
        try
        {
            return TryCheck(input, Util.Parse("+" + d, "ZZ"), out number, out error);
        }
        catch (NumberParseException ex)
        {
            error = ex.ErrorType == ErrorType.INVALID_COUNTRY_CODE
                ? $"'{input}' does not start with a country calling code in service"
                : $"'{input}' is too short for an international number";
            return false;
        }
    }

    /// <summary>A number as dialled within <paramref name="home"/>: with its trunk prefix (030… in Germany, 8… in Russia), or without where the country has none.</summary>
    private static bool TryNational(string input, string digits, string home, [NotNullWhen(true)] out PhoneNumber? number, [NotNullWhen(false)] out string? error)
    {
        number = null;
        var region = int.TryParse(home, NumberStyles.None, CultureInfo.InvariantCulture, out var code) ? Util.GetRegionCodeForCountryCode(code) : "ZZ";
        // Where the country dials national numbers with a trunk prefix (0 in Germany, 8 in Russia, 06 in Hungary),
        // a number without it is not a national number: it is a local one, or a foreign one missing its code.
        var trunk = region == "ZZ" ? null : Util.GetNddPrefixForRegion(region, true);
        try
        {
            if (region != "ZZ" && (string.IsNullOrEmpty(trunk) || digits.StartsWith(trunk, StringComparison.Ordinal))
                && TryCheck(input, Util.Parse(digits, region), out number, out error))
            {
                return true;
            }
        }
        catch (NumberParseException)
        {
        }
        error = $"'{input}' has no country code and is not a national number of +{home}; write it as +<country code><number>, e.g. +4930123456";
        return false;
    }

    private static bool TryCheck(string input, PhoneNumbers.PhoneNumber parsed, [NotNullWhen(true)] out PhoneNumber? number, [NotNullWhen(false)] out string? error)
    {
        number = null;
        var country = parsed.CountryCode.ToString(CultureInfo.InvariantCulture);
        var national = Util.GetNationalSignificantNumber(parsed);
        if (country == "1" && (national.Length != 10 || national[0] is '0' or '1'))
        {
            // North American Numbering Plan: ten digits, area code not starting with 0 or 1.
            error = $"'{input}' is not a North American number: +1 is followed by ten digits, the area code starting with 2-9";
            return false;
        }
        error = Util.IsPossibleNumberWithReason(parsed) switch
        {
            PhoneNumberUtil.ValidationResult.IS_POSSIBLE => null,
            PhoneNumberUtil.ValidationResult.TOO_SHORT or PhoneNumberUtil.ValidationResult.IS_POSSIBLE_LOCAL_ONLY =>
                $"'{input}' is too short for a number in country code +{country}",
            PhoneNumberUtil.ValidationResult.TOO_LONG => $"'{input}' is too long for a number in country code +{country}",
            PhoneNumberUtil.ValidationResult.INVALID_LENGTH => $"'{input}' has {national.Length} digits after +{country}, a length no number there has",
            _ => $"'{input}' does not start with a country calling code in service",
        };
        if (error is not null)
        {
            return false;
        }
        number = new PhoneNumber(PhoneNumberKind.E164, "+" + country + national, country, national);
        return true;
    }

    /// <summary>For people, in the international style: <c>+1 555-123-4567</c>, <c>+44 20 7946 0000</c>; an extension as is.</summary>
    public string ToDisplayString() => IsExtension ? Value : Util.Format(Parsed(), PhoneNumberFormat.INTERNATIONAL);

    /// <summary>As dialled within its own country: <c>(555) 123-4567</c>, <c>020 7946 0000</c>; an extension as is.</summary>
    public string ToNationalString() => IsExtension ? Value : Util.Format(Parsed(), PhoneNumberFormat.NATIONAL);

    public override string ToString() => Value;

    /// <summary>Two numbers are equal when they dial the same: the same kind and value.</summary>
    public bool Equals(PhoneNumber? other) => other is not null && Kind == other.Kind && Value == other.Value;

    public override int GetHashCode() => HashCode.Combine(Kind, Value);

    private PhoneNumbers.PhoneNumber Parsed() => Util.Parse(Value, "ZZ");

    private static NumberType TypeOf(PhoneNumberType type) => type switch
    {
        PhoneNumberType.FIXED_LINE => NumberType.FixedLine,
        PhoneNumberType.MOBILE => NumberType.Mobile,
        PhoneNumberType.FIXED_LINE_OR_MOBILE => NumberType.FixedLineOrMobile,
        PhoneNumberType.TOLL_FREE => NumberType.TollFree,
        PhoneNumberType.PREMIUM_RATE => NumberType.PremiumRate,
        PhoneNumberType.SHARED_COST => NumberType.SharedCost,
        PhoneNumberType.VOIP => NumberType.Voip,
        PhoneNumberType.PERSONAL_NUMBER => NumberType.PersonalNumber,
        PhoneNumberType.PAGER => NumberType.Pager,
        PhoneNumberType.UAN => NumberType.Uan,
        PhoneNumberType.VOICEMAIL => NumberType.Voicemail,
        _ => NumberType.Unknown,
    };

    private static string Printable(char c) => char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString();
}
