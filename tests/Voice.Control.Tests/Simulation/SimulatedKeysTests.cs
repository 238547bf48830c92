using Voice.Control.Calls;
using Voice.Control.Phone;
using Voice.Control.Simulation;
using Voice.Control.Tests.Support;

namespace Voice.Control.Tests.Simulation;

/// <summary>The simulated callee who presses keys (<c>+15005551ABC</c>), so acknowledgement flows can be tried without a phone.</summary>
public class SimulatedKeysTests
{
    private static readonly SimulationOptions Fast = new() { RingTime = TimeSpan.FromMilliseconds(10), SignallingDelay = TimeSpan.FromMilliseconds(1), PlaybackSpeed = 50 };

    private static readonly DigitRules OneKey = new(1, 1, null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(3));

    private static async Task<ICallMedia> AnsweredAsync(SimulatedBackend backend, string number)
    {
        var media = await backend.CreateMediaAsync(CancellationToken.None).Within();
        var dialog = await backend.DialAsync(new DialRequest
        {
            Number = PhoneNumber.Parse(number), Uri = $"sip:{number}@pbx", Sdp = media.LocalSdp, RingTimeout = TimeSpan.FromSeconds(30),
        }, CancellationToken.None).Within();
        await media.ConnectAsync(dialog.RemoteSdp!, CancellationToken.None).Within();
        return media;
    }

    [Test]
    public async Task The_callee_acknowledges_with_the_key_its_number_names()
    {
        var media = await AnsweredAsync(new SimulatedBackend(Fast), "+15005551102");
        Assert.That(await media.GatherAsync(null, OneKey, CancellationToken.None).Within(), Is.EqualTo(new GatheredDigits("1", GatherReasons.DtmfDetected)));
        Assert.That(await media.GatherAsync(null, OneKey, CancellationToken.None).Within(), Is.EqualTo(new GatheredDigits(string.Empty, GatherReasons.Timeout)),
            "the second gather gets nothing");
    }

    [Test]
    public async Task The_callee_asks_to_hear_it_again_then_acknowledges()
    {
        var media = await AnsweredAsync(new SimulatedBackend(Fast), "+15005551212");
        var first = await media.GatherAsync(null, OneKey, CancellationToken.None).Within();
        var second = await media.GatherAsync(null, OneKey, CancellationToken.None).Within();
        Assert.That((first.Digits, second.Digits), Is.EqualTo(("2", "1")));
    }

    [Test]
    public async Task A_callee_of_any_other_number_presses_nothing_and_each_gather_times_out()
    {
        var media = await AnsweredAsync(new SimulatedBackend(Fast), MagicNumbers.Answers);
        Assert.That(await media.GatherAsync(null, OneKey, CancellationToken.None).Within(), Is.EqualTo(new GatheredDigits(string.Empty, GatherReasons.Timeout)));
    }

    [Test]
    public async Task The_finishing_key_ends_the_gather_without_being_a_digit_and_too_few_digits_time_out()
    {
        var media = await AnsweredAsync(new SimulatedBackend(Fast), "+15005551903");
        Assert.That(await media.GatherAsync(null, OneKey with { FinishOnKey = '9' }, CancellationToken.None).Within(), Is.EqualTo(new GatheredDigits(string.Empty, GatherReasons.DtmfDetected)));
        var pin = await AnsweredAsync(new SimulatedBackend(Fast), "+15005551503");
        Assert.That(await pin.GatherAsync(null, new DigitRules(4, 4, '#', TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(3)), CancellationToken.None).Within(),
            Is.EqualTo(new GatheredDigits("5", GatherReasons.Timeout)), "one key of a four-digit PIN");
    }

    [Test]
    public async Task A_hang_up_during_a_gather_cancels_it()
    {
        var media = await AnsweredAsync(new SimulatedBackend(Fast), MagicNumbers.Answers);
        using var hangup = new CancellationTokenSource();
        var gather = media.GatherAsync(null, OneKey with { Timeout = TimeSpan.FromMinutes(10) }, hangup.Token);
        await hangup.CancelAsync();
        Assert.That(async () => await gather.Within(), Throws.InstanceOf<OperationCanceledException>());
    }

    [TestCase("+15005551000", false)]
    [TestCase("+15005551100", false)]
    [TestCase("+1500555110", false)]
    [TestCase("+15005550000", false)]
    [TestCase("+15005551109", true)]
    public void Only_numbers_that_name_a_key_time_press_keys(string number, bool presses)
    {
        Assert.That(MagicNumbers.KeyPressesOf(number) is not null, Is.EqualTo(presses));
    }

    [Test]
    public async Task Digits_sent_to_the_callee_take_their_time_and_are_kept_in_order()
    {
        var backend = new SimulatedBackend(Fast);
        var media = await AnsweredAsync(backend, MagicNumbers.Answers);
        await media.SendDigitsAsync("12w#", TimeSpan.FromMilliseconds(100), CancellationToken.None).Within();
        await media.SendDigitsAsync("9", TimeSpan.FromMilliseconds(100), CancellationToken.None).Within();
        Assert.That(SimulatedBackend.DigitsSentTo(media), Is.EqualTo(new[] { "12w#", "9" }));
    }
}
