namespace Voice.Control.Phone;

/// <summary>
/// Which destinations may be called, against toll fraud: a leaked API key must not be able to ring premium-rate
/// or far-away numbers. Denied prefixes win over allowed ones; a denied number fails before anything is dialled.
/// </summary>
public sealed record DestinationPolicy
{
    /// <summary>Premium-rate and pay-per-call ranges of common countries, denied unless the deployment changes the list.</summary>
    public static IReadOnlyList<string> PremiumRatePrefixes { get; } =
    [
        "+1900", "+1976", // North America: 900 pay-per-call, 976 information services
        "+449", "+4487", // UK: 09 premium rate, 087 revenue-sharing
        "+49900", "+49137", // Germany: 0900 premium, 0137 televoting
        "+3389", // France: 089 premium
        "+3989", // Italy: 89x premium
        "+34803", "+34806", "+34807", "+34905", // Spain
        "+43900", "+43930", // Austria
        "+41900", "+41906", // Switzerland
        "+61190", // Australia: 190 premium
        "+870", "+881", "+882", "+883", // satellite (Inmarsat, Iridium…) and international networks: costly per minute
    ];

    public static DestinationPolicy Default { get; } = new();

    /// <summary>Country calling codes that may be called (<c>"1"</c>, <c>"44"</c>); empty allows every country.</summary>
    public IReadOnlyList<string> AllowedCountryCodes { get; init; } = [];

    /// <summary>E.164 prefixes that may be called (<c>"+1555"</c>); empty allows every prefix of the allowed countries.</summary>
    public IReadOnlyList<string> AllowedPrefixes { get; init; } = [];

    /// <summary>E.164 prefixes that are never called, even when allowed above.</summary>
    public IReadOnlyList<string> DeniedPrefixes { get; init; } = PremiumRatePrefixes;

    /// <summary>
    /// Kinds of line that are never called, by the numbering plan of the number's country (libphonenumber): premium
    /// rate by default, on top of <see cref="DeniedPrefixes"/>. Add <see cref="NumberType.SharedCost"/>,
    /// <see cref="NumberType.Uan"/>, <see cref="NumberType.PersonalNumber"/>… to deny those too.
    /// </summary>
    public IReadOnlyList<NumberType> DeniedNumberTypes { get; init; } = [NumberType.PremiumRate];

    /// <summary>Whether PBX extensions may be called.</summary>
    public bool AllowExtensions { get; init; } = true;

    /// <summary>Null when <paramref name="number"/> may be called; otherwise why not.</summary>
    public string? Check(PhoneNumber number)
    {
        ArgumentNullException.ThrowIfNull(number);
        if (number.IsExtension)
        {
            return AllowExtensions ? null : $"extension {number.Value}: calling extensions is not allowed";
        }
        if (DeniedPrefixes.FirstOrDefault(p => number.Value.StartsWith(p, StringComparison.Ordinal)) is { } denied)
        {
            return $"{number.Value}: numbers starting with {denied} are denied (premium-rate or special services)";
        }
        if (DeniedNumberTypes.Count > 0 && DeniedNumberTypes.Contains(number.Type))
        {
            return $"{number.Value}: {Describe(number.Type)} numbers are denied";
        }
        if (AllowedCountryCodes.Count > 0 && !AllowedCountryCodes.Contains(number.CountryCode))
        {
            return $"{number.Value}: country code +{number.CountryCode} is not among the allowed ({string.Join(", ", AllowedCountryCodes.Select(c => "+" + c))})";
        }
        if (AllowedPrefixes.Count > 0 && !AllowedPrefixes.Any(p => number.Value.StartsWith(p, StringComparison.Ordinal)))
        {
            return $"{number.Value}: not within the allowed prefixes ({string.Join(", ", AllowedPrefixes)})";
        }
        return null;
    }

    private static string Describe(NumberType type) => type switch
    {
        NumberType.PremiumRate => "premium-rate",
        NumberType.SharedCost => "shared-cost",
        NumberType.Uan => "universal access (UAN)",
        NumberType.PersonalNumber => "personal",
        NumberType.TollFree => "toll-free",
        NumberType.FixedLineOrMobile => "fixed-line or mobile",
        NumberType.FixedLine => "fixed-line",
        NumberType.Voip => "VoIP",
        _ => type.ToString().ToLowerInvariant(),
    };

    /// <summary>Reads a number type as a setting writes it: <c>PremiumRate</c>, <c>premium_rate</c> or <c>premium-rate</c>.</summary>
    public static bool TryParseNumberType(string text, out NumberType type) =>
        Enum.TryParse(text.Replace("_", string.Empty, StringComparison.Ordinal).Replace("-", string.Empty, StringComparison.Ordinal), ignoreCase: true, out type)
        && Enum.IsDefined(type) && !int.TryParse(text, out _);
}
