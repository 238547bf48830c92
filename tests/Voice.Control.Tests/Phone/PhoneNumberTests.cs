using Voice.Control.Phone;

namespace Voice.Control.Tests.Phone;

public class PhoneNumberTests
{
    [TestCase("+15551234567", "+15551234567", "1", "5551234567")]
    [TestCase("+1 (555) 123-4567", "+15551234567", "1", "5551234567")]
    [TestCase("5551234567", "+15551234567", "1", "5551234567")] // the original's 10-digit US rule
    [TestCase("15551234567", "+15551234567", "1", "5551234567")] // 11 digits starting with 1
    [TestCase("(555) 123-4567", "+15551234567", "1", "5551234567")]
    [TestCase("+44 20 7946 0000", "+442079460000", "44", "2079460000")]
    [TestCase("0044 20 7946 0000", "+442079460000", "44", "2079460000")]
    [TestCase("+49 (30) 1234567", "+49301234567", "49", "301234567")]
    [TestCase("+353 1 234 5678", "+35312345678", "353", "12345678")]
    [TestCase("+7 495 123-45-67", "+74951234567", "7", "4951234567")]
    public void International_and_US_numbers_normalise_to_E164(string input, string e164, string country, string national)
    {
        var number = PhoneNumber.Parse(input);
        Assert.That(number.Kind, Is.EqualTo(PhoneNumberKind.E164));
        Assert.That(number.Value, Is.EqualTo(e164));
        Assert.That(number.CountryCode, Is.EqualTo(country));
        Assert.That(number.NationalNumber, Is.EqualTo(national));
    }

    [TestCase("101")]
    [TestCase("1000")]
    [TestCase("123456")]
    public void Short_digit_strings_are_extensions_kept_as_written(string input)
    {
        var number = PhoneNumber.Parse(input);
        Assert.That(number.IsExtension, Is.True);
        Assert.That(number.Value, Is.EqualTo(input));
        Assert.That(number.ToDisplayString(), Is.EqualTo(input));
    }

    [TestCase("", "empty")]
    [TestCase("   ", "empty")]
    [TestCase("abc", "contains 'a'")]
    [TestCase("+1555123\r\n4567", "contains '\\u000D'")]
    [TestCase("+15551234567;user=phone", "contains ';'")]
    [TestCase("+", "no digits")]
    [TestCase("+1234567890123456", "at most 15")]
    [TestCase("+80012345678", "country calling code")] // 800 is assigned…
    [TestCase("+2831234567", "country calling code")] // …283 is not
    [TestCase("+1555123456", "ten digits")]
    [TestCase("+10551234567", "area code starting with 2-9")]
    [TestCase("1234567", "no country code")]
    [TestCase("030 1234567", "no country code")]
    [TestCase("+44123", "too short")]
    public void Numbers_we_cannot_dial_are_refused_with_the_reason(string input, string reason)
    {
        if (input == "+80012345678")
        {
            Assert.That(PhoneNumber.Parse(input).CountryCode, Is.EqualTo("800"), "+800 is the international freephone code");
            return;
        }
        var ok = PhoneNumber.TryParse(input, null, out _, out var error);
        Assert.That(ok, Is.False);
        Assert.That(error, Does.Contain(reason));
        Assert.Throws<FormatException>(() => PhoneNumber.Parse(input));
    }

    [Test]
    public void A_default_country_reads_national_numbers_with_the_trunk_prefix()
    {
        var germany = new PhoneNumberRules { DefaultCountryCode = "49", UsTenDigitRule = false };
        Assert.That(PhoneNumber.Parse("030 1234567", germany).Value, Is.EqualTo("+49301234567"));
        Assert.That(PhoneNumber.Parse("0171 1234567", germany).Value, Is.EqualTo("+491711234567"));
        Assert.That(PhoneNumber.Parse("+1 555 123 4567", germany).Value, Is.EqualTo("+15551234567"));
        Assert.That(PhoneNumber.TryParse("5551234567", germany, out _, out var error), Is.False, "no US rule here");
        Assert.That(error, Does.Contain("no country code"));
    }

    [TestCase("+15551234567", "+1 555-123-4567", "(555) 123-4567")]
    [TestCase("+442079460000", "+44 20 7946 0000", "020 7946 0000")]
    [TestCase("+49301234567", "+49 30 1234567", "030 1234567")]
    [TestCase("+390612345678", "+39 06 1234 5678", "06 1234 5678")]
    [TestCase("101", "101", "101")]
    public void Numbers_are_displayed_for_people_in_the_international_and_the_national_style(string input, string international, string national)
    {
        var number = PhoneNumber.Parse(input);
        Assert.That(number.ToDisplayString(), Is.EqualTo(international));
        Assert.That(number.ToNationalString(), Is.EqualTo(national));
    }

    [TestCase("+441234", "too short")] // a UK number has 9 or 10 digits after +44
    [TestCase("+8881234", "too short")] // +888 numbers have 11 digits
    [TestCase("+4420794600001", "too long")]
    [TestCase("+3531", "too short")]
    public void A_number_must_have_a_length_its_country_allows(string input, string reason)
    {
        Assert.That(PhoneNumber.TryParse(input, null, out _, out var error), Is.False, input);
        Assert.That(error, Does.Contain(reason));
    }

    [TestCase("49", "030 1234567", "+49301234567")]
    [TestCase("49", "0171 1234567", "+491711234567")]
    [TestCase("44", "020 7946 0000", "+442079460000")]
    [TestCase("7", "8 495 123-45-67", "+74951234567")] // trunk prefix 8
    [TestCase("36", "06 1 234 5678", "+3612345678")] // trunk prefix 06
    [TestCase("39", "06 1234 5678", "+390612345678")] // no trunk prefix: the 0 is part of the number
    [TestCase("33", "01 23 45 67 89", "+33123456789")]
    public void National_numbers_of_the_home_country_are_read_as_people_there_write_them(string home, string input, string e164) =>
        Assert.That(PhoneNumber.Parse(input, new PhoneNumberRules { DefaultCountryCode = home, UsTenDigitRule = false }).Value, Is.EqualTo(e164));

    [TestCase("+19005551234", NumberType.PremiumRate)]
    [TestCase("+499001234567", NumberType.PremiumRate)]
    [TestCase("+31900123456", NumberType.PremiumRate)]
    [TestCase("+491801234567", NumberType.SharedCost)]
    [TestCase("+447012345678", NumberType.PersonalNumber)]
    [TestCase("+445512345678", NumberType.Uan)]
    [TestCase("+442079460000", NumberType.FixedLine)]
    [TestCase("+447912345678", NumberType.Mobile)]
    [TestCase("+18005551234", NumberType.TollFree)]
    [TestCase("+15551234567", NumberType.Unknown)] // fictional: possible, not assigned; still accepted
    [TestCase("101", NumberType.Unknown)]
    public void A_number_knows_its_kind_of_line(string input, NumberType type) =>
        Assert.That(PhoneNumber.Parse(input).Type, Is.EqualTo(type));
    [Test]
    public void A_number_read_again_reads_by_the_rules_given_each_time()
    {
        // The same text, read in a row on one thread (as a request reads its destination) by different rules.
        var germany = new PhoneNumberRules { DefaultCountryCode = "49", UsTenDigitRule = false };
        var britain = new PhoneNumberRules { DefaultCountryCode = "44", UsTenDigitRule = false };
        var noHome = new PhoneNumberRules { UsTenDigitRule = false };
        Assert.That(PhoneNumber.Parse("030 1234567", germany).Value, Is.EqualTo("+49301234567"));
        Assert.That(PhoneNumber.Parse("030 1234567", germany).Value, Is.EqualTo("+49301234567"));
        Assert.That(PhoneNumber.TryParse("030 1234567", noHome, out _, out var error), Is.False);
        Assert.That(error, Does.Contain("no country code"));
        Assert.That(PhoneNumber.Parse("020 7946 0000", britain).Value, Is.EqualTo("+442079460000"));
        Assert.That(PhoneNumber.TryParse("020 7946 0000", germany, out var german, out _) ? german.Value : null, Is.Not.EqualTo("+442079460000"));
    }

    [Test]
    public void A_number_read_after_another_is_itself()
    {
        Assert.That(PhoneNumber.Parse("+1 555 123 4567").Value, Is.EqualTo("+15551234567"));
        Assert.That(PhoneNumber.Parse("+1 555 123 4568").Value, Is.EqualTo("+15551234568"));
        Assert.That(PhoneNumber.TryParse("+1 555 123 456x", null, out _, out var error), Is.False);
        Assert.That(error, Does.Contain("contains 'x'"));
        Assert.That(PhoneNumber.Parse("+1 555 123 4568").Type, Is.EqualTo(NumberType.Unknown));
        Assert.That(PhoneNumber.Parse("+1 800 555 1234").Type, Is.EqualTo(NumberType.TollFree));
    }
}
