using Voice.Control.Phone;

namespace Voice.Control.Tests.Phone;

public class DestinationPolicyTests
{
    [TestCase("+15551234567", null)]
    [TestCase("+442079460000", null)]
    [TestCase("101", null)]
    [TestCase("+19005551234", "starting with +1900")]
    [TestCase("+449098790000", "starting with +449")]
    [TestCase("+4990012345678", "starting with +49900")]
    [TestCase("+881612345678", "starting with +881")]
    [TestCase("+8801712345678", null)] // Bangladesh is not a satellite service
    [TestCase("+31900123456", "premium-rate numbers are denied")] // by the Dutch numbering plan, not by a listed prefix
    [TestCase("+499001234567", "starting with +49900")]
    [TestCase("+491801234567", null)] // shared cost: allowed unless the deployment denies it
    public void The_default_policy_denies_premium_rate_and_satellite_numbers(string number, string? reason) =>
        Assert.That(DestinationPolicy.Default.Check(PhoneNumber.Parse(number)), reason is null ? Is.Null : Does.Contain(reason));

    [TestCase("+15551234567", null)]
    [TestCase("+12125551234", "not within the allowed prefixes (+1555)")]
    [TestCase("+442079460000", "country code +44 is not among the allowed (+1)")]
    [TestCase("+15559001234", "starting with +155590")]
    [TestCase("101", "calling extensions is not allowed")]
    public void A_deployment_policy_allows_countries_and_prefixes_and_denies_what_it_lists(string number, string? reason)
    {
        var policy = new DestinationPolicy
        {
            AllowedCountryCodes = ["1"],
            AllowedPrefixes = ["+1555"],
            DeniedPrefixes = ["+155590"],
            AllowExtensions = false,
        };
        Assert.That(policy.Check(PhoneNumber.Parse(number)), reason is null ? Is.Null : Does.Contain(reason));
    }

    [TestCase("+491801234567", "shared-cost numbers are denied")]
    [TestCase("+445512345678", "universal access (UAN) numbers are denied")]
    [TestCase("+447012345678", "personal numbers are denied")]
    [TestCase("+31900123456", null)] // premium rate, but this deployment lists its own types and prefixes
    [TestCase("+442079460000", null)]
    public void A_deployment_can_deny_kinds_of_line(string number, string? reason)
    {
        var policy = new DestinationPolicy { DeniedPrefixes = [], DeniedNumberTypes = [NumberType.SharedCost, NumberType.Uan, NumberType.PersonalNumber] };
        Assert.That(policy.Check(PhoneNumber.Parse(number)), reason is null ? Is.Null : Does.Contain(reason));
    }

    [TestCase("PremiumRate", NumberType.PremiumRate)]
    [TestCase("premium_rate", NumberType.PremiumRate)]
    [TestCase("shared-cost", NumberType.SharedCost)]
    [TestCase("UAN", NumberType.Uan)]
    public void Number_types_are_read_as_settings_write_them(string text, NumberType type)
    {
        Assert.That(DestinationPolicy.TryParseNumberType(text, out var parsed), Is.True);
        Assert.That(parsed, Is.EqualTo(type));
    }

    [TestCase("premium")]
    [TestCase("4")]
    [TestCase("")]
    public void An_unknown_number_type_is_refused(string text) =>
        Assert.That(DestinationPolicy.TryParseNumberType(text, out _), Is.False);
}
