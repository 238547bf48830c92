namespace Voice.Control.Phone;

/// <summary>
/// What kind of line a number is, by the numbering plan of its country (libphonenumber's metadata). A number
/// the plan does not list, such as the fictional <c>+1 555 01xx</c> range, is <see cref="Unknown"/>.
/// </summary>
public enum NumberType
{
    Unknown,
    FixedLine,
    Mobile,
    FixedLineOrMobile,
    TollFree,
    PremiumRate,
    SharedCost,
    Voip,
    PersonalNumber,
    Pager,
    Uan,
    Voicemail,
}
