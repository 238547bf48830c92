using PhoneNumbers;

namespace Voice.Control.Phone;

/// <summary>The ITU-T E.164 country calling codes in service, as libphonenumber's metadata knows them (1 and 7 are shared zones).</summary>
public static class CountryCallingCodes
{
    private static readonly PhoneNumberUtil Util = PhoneNumberUtil.GetInstance();

    public static bool IsAssigned(string code) =>
        code.Length is > 0 and <= 3 && code.All(char.IsAsciiDigit) && code[0] != '0'
        && Util.GetRegionCodeForCountryCode(int.Parse(code, System.Globalization.CultureInfo.InvariantCulture)) != "ZZ";
}
