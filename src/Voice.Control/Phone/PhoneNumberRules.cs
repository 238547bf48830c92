namespace Voice.Control.Phone;

/// <summary>How numbers written without a country code are read.</summary>
public sealed record PhoneNumberRules
{
    public static PhoneNumberRules Default { get; } = new();

    /// <summary>The original's rule: 10 digits are a US number (+1), and so are 11 digits starting with 1.</summary>
    public bool UsTenDigitRule { get; init; } = true;

    /// <summary>Digit strings this long or shorter, written without '+', are PBX extensions (3CX uses 3–5 digits).</summary>
    public int MaxExtensionLength { get; init; } = 6;

    /// <summary>
    /// The country a national number with trunk prefix 0 belongs to (<c>"49"</c>: 030 1234567 is +49 30 1234567).
    /// Null: such numbers must be written with their country code.
    /// </summary>
    public string? DefaultCountryCode { get; init; }
}
