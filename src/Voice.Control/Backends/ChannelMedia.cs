using Voice.Control.Calls;
using Voice.Control.Media;
using Voice.Control.Tts;
using static Voice.Control.Backends.SipCallBackend;

namespace Voice.Control.Backends;

/// <summary>
/// A FreeSWITCH channel as the orchestrator's media (<see cref="ICallMedia"/>): an endpoint's, or one a dialplan handed
/// over. Says, plays, gathers and sends keys through the channel's commands; failures leave as <see cref="CallBackendException"/>.
/// </summary>
internal sealed class ChannelMedia(
    MediaChannel channel, string localSdp, Task<string> lost, Func<string, CancellationToken, Task<string?>> connect, Func<CancellationToken, Task> destroy,
    MediaServer? server = null) : ICallMedia
{
    /// <summary>The media server the channel is on, when known (an endpoint's); a second leg to bridge to goes there too.</summary>
    public MediaServer? Server => server;

    /// <summary>The channel's commands.</summary>
    public MediaChannel Channel => channel;

    public string LocalSdp => localSdp;

    public Task<string> Lost => lost;

    public Task ConnectAsync(string remoteSdp, CancellationToken ct) => Translated(() => connect(remoteSdp, ct));

    /// <summary>
    /// The far end's new offer goes to FreeSWITCH, whose answer (cut to the offered streams) goes back. An SRTP offer does
    /// not: re-INVITEd with a new key, FreeSWITCH 1.11.1 sends with a key its answer does not show (see the README's SRTP
    /// section), so the last SDP answers it and the media stays as negotiated.
    /// </summary>
    public Task<string?> ReofferAsync(string remoteOffer, CancellationToken ct) => remoteOffer.Contains("a=crypto:", StringComparison.Ordinal)
        ? Task.FromResult<string?>(null)
        : Translated(async () => await connect(remoteOffer, ct).ConfigureAwait(false) is { } answer ? Sdp.AnswerToOffer(answer, remoteOffer) : null);

    public Task PlayAsync(SpeechAudio audio, CancellationToken ct) => Translated(() => audio.Source is { } source
        ? channel.PlayAsync(source, ct)
        : channel.SpeakAsync(audio.Text ?? string.Empty, new SpeakOptions { Voice = audio.Voice ?? SpeakOptions.Default.Voice }, ct));

    public Task PauseAsync(TimeSpan duration, CancellationToken ct) =>
        Translated(() => channel.PlayAsync($"silence_stream://{(long)duration.TotalMilliseconds}", ct));

    public Task<GatheredDigits> GatherAsync(SpeechAudio? prompt, DigitRules rules, CancellationToken ct) => Translated(async () =>
    {
        if (prompt is { Source: null })
        {
            // FreeSWITCH's own TTS cannot be a play_and_get_digits prompt: it is spoken first, and a key pressed
            // meanwhile waits in the channel's queue for the collection that follows.
            await PlayAsync(prompt, ct).ConfigureAwait(false);
        }
        var collected = await channel.PlayAndCollectDigitsAsync(new CollectDigitsOptions
        {
            Prompt = prompt?.Source ?? "silence_stream://250",
            InvalidPrompt = "silence_stream://250",
            MinDigits = rules.MinDigits,
            MaxDigits = rules.MaxDigits,
            Tries = 1,
            Timeout = rules.Timeout,
            DigitTimeout = rules.InterDigitTimeout,
            Terminators = rules.FinishOnKey?.ToString() ?? CollectDigitsOptions.NoTerminator,
            Pattern = @"[0-9*#]+",
        }, ct).ConfigureAwait(false);
        // FreeSWITCH says timeout when the inter-digit wait ended input, even with enough digits (lab: "1#" with no
        // finishing key, at most 3: read_result timeout); enough digits, or the finishing key, is input.
        return new GatheredDigits(collected.Digits,
            collected.Digits.Length >= Math.Max(rules.MinDigits, 1) || collected.Terminator is not null ? GatherReasons.DtmfDetected : GatherReasons.Timeout);
    });

    public Task SendDigitsAsync(string digits, TimeSpan toneDuration, CancellationToken ct) =>
        Translated(() => channel.SendDigitsAsync(digits, toneDuration, ct));

    public Task StartRecordingAsync(RecordingFile file, bool stereo, TimeSpan limit, CancellationToken ct) =>
        Translated(() => channel.StartRecordingAsync(file.FreeSwitchPath, limit, stereo, ct));

    public Task StopRecordingAsync(RecordingFile file, CancellationToken ct) =>
        Translated(() => channel.StopRecordingAsync(file.FreeSwitchPath, ct));

    public Task BridgeAsync(ICallMedia other, CancellationToken ct) => other is ChannelMedia leg
        ? Translated(() => channel.BridgeAsync(leg.Channel, ct))
        : throw new NotSupportedException("a FreeSWITCH channel bridges only to another FreeSWITCH channel");

    public Task DestroyAsync(CancellationToken ct) => Translated(() => destroy(ct));
}
