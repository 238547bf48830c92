using System.Collections.Concurrent;
using Voice.Control.Calls;
using Voice.Control.Tests.Support;
using Voice.Control.Tts;

namespace Voice.Control.Tests.Calls;

/// <summary>
/// The orchestrator on a backend that offers late (as the real one does with SRTP configured): the INVITE goes out
/// without SDP, the media is made from the callee's offer when it answers, and that media's answer is the ACK's.
/// The backend here records what the orchestrator asks of it; the real backend's parts have their own tests.
/// </summary>
public class LateOfferCallTests
{
    private const string PhoneOffer = "v=0\r\nm=audio 14000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:key\r\n";

    [Test]
    public async Task The_callee_offers_and_the_media_made_for_its_offer_answers_without_a_re_INVITE()
    {
        var backend = new RecordingBackend();
        await using var manager = new CallManager(new CallOptions(), backend, new FliteSynthesizer(), TestLog.Factory);
        var changes = new ChangeLog(manager);

        var placed = manager.Place(new CallRequest { To = "+15551234567", Message = "The backup failed." });
        var ended = await changes.FinalAsync(placed.CallId);

        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Completed, CallReasons.AnnounceComplete)));
        Assert.That(backend.Events, Is.EqualTo(new[]
        {
            "dial without SDP",
            "ringing 180",
            $"media for {PhoneOffer}",
            "ACK with answer-for-the-phone",
            "play",
            "hang up the call",
            "destroy the media",
        }), "no media before the answer, no re-INVITE of it after");
    }

    [Test]
    public async Task When_no_media_answers_the_callees_offer_the_call_fails_and_nothing_is_left()
    {
        var backend = new RecordingBackend { MediaFails = true };
        await using var manager = new CallManager(new CallOptions(), backend, new FliteSynthesizer(), TestLog.Factory);
        var changes = new ChangeLog(manager);

        var placed = manager.Place(new CallRequest { To = "+15551234567", Message = "The backup failed." });
        var ended = await changes.FinalAsync(placed.CallId);

        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Failed, CallReasons.MediaError)));
        Assert.That(ended.Detail, Does.Contain("offered no usable media"));
        Assert.That(backend.Events, Does.Not.Contain("play"));
        Assert.That(backend.Events[^1], Is.EqualTo("ACK without answer, then BYE"));
    }

    private sealed class RecordingBackend : ICallBackend
    {
        private readonly ConcurrentQueue<string> _events = new();

        public bool MediaFails { get; init; }

        public IReadOnlyList<string> Events => [.. _events];

        public string Name => "recording";

        public bool IsSimulated => false;

        public string? NotReadyReason => null;

        public bool LateOffer => true;

        public Task<ICallMedia> CreateMediaAsync(CancellationToken ct) => throw new InvalidOperationException("a late offer makes no media before the answer");

        public Task<ICallMedia> CreateMediaAsync(string remoteOffer, CancellationToken ct)
        {
            _events.Enqueue($"media for {remoteOffer}");
            return MediaFails
                ? Task.FromException<ICallMedia>(new CallBackendException(CallFailure.MediaFailed, "FreeSWITCH offered no usable media"))
                : Task.FromResult<ICallMedia>(new RecordedMedia(this));
        }

        public async Task<ICallDialog> DialAsync(DialRequest request, CancellationToken ct)
        {
            _events.Enqueue(request.Sdp is null ? "dial without SDP" : "dial with SDP");
            request.OnProgress?.Invoke(180, null);
            _events.Enqueue("ringing 180");
            try
            {
                var answer = await request.AnswerOffer!(PhoneOffer, ct);
                _events.Enqueue($"ACK with {answer}");
            }
            catch (Exception)
            {
                // What the drachtio client does: a 2xx is acknowledged, the call hung up, the error thrown on.
                _events.Enqueue("ACK without answer, then BYE");
                throw;
            }
            return new Dialog(this);
        }

        private sealed class Dialog(RecordingBackend backend) : ICallDialog
        {
            public string? RemoteSdp => PhoneOffer;

            public Task<CallLegEnd> Ended { get; } = new TaskCompletionSource<CallLegEnd>().Task;

            public Task HangupAsync(CancellationToken ct)
            {
                backend._events.Enqueue("hang up the call");
                return Task.CompletedTask;
            }
        }

        private sealed class RecordedMedia(RecordingBackend backend) : ICallMedia
        {
            public string LocalSdp => "answer-for-the-phone";

            public Task<string> Lost { get; } = new TaskCompletionSource<string>().Task;

            public Task ConnectAsync(string remoteSdp, CancellationToken ct)
            {
                backend._events.Enqueue("re-INVITE the media");
                return Task.CompletedTask;
            }

            public Task PlayAsync(SpeechAudio audio, CancellationToken ct)
            {
                backend._events.Enqueue("play");
                return Task.CompletedTask;
            }

            public Task PauseAsync(TimeSpan duration, CancellationToken ct) => Task.CompletedTask;

            public Task<GatheredDigits> GatherAsync(SpeechAudio? prompt, DigitRules rules, CancellationToken ct) =>
                throw new InvalidOperationException("an announce call gathers nothing");

            public Task SendDigitsAsync(string digits, TimeSpan toneDuration, CancellationToken ct) =>
                throw new InvalidOperationException("an announce call sends no digits");

            public Task DestroyAsync(CancellationToken ct)
            {
                backend._events.Enqueue("destroy the media");
                return Task.CompletedTask;
            }
        }
    }
}
