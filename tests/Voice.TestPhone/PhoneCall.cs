using System.Diagnostics;
using System.Net;

namespace Voice.TestPhone;

/// <summary>One call the phone received, from INVITE to its end, with what it heard.</summary>
public sealed class PhoneCall
{
    private readonly TaskCompletionSource _answered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal PhoneCall(SipPacket invite, string localTag, RtpEndpoint media, IPEndPoint from)
    {
        Invite = invite;
        LocalTag = localTag;
        Media = media;
        Source = from;
        ReceivedAt = Stopwatch.GetTimestamp();
    }

    public SipPacket Invite { get; }

    public string CallId => Invite.CallId;

    /// <summary>The dialled user (the Request-URI's user part).</summary>
    public string User => Invite.RequestUri.Split(':', 2)[1].Split('@')[0];

    /// <summary>The offer VoiceBridge made in the INVITE; empty for a late offer (the phone offers in its 200 OK).</summary>
    public string OfferedSdp => Invite.Body;

    /// <summary>For a late offer: the answer VoiceBridge gave in the ACK.</summary>
    public string? AckSdp { get; internal set; }

    internal string LocalTag { get; }

    internal IPEndPoint Source { get; }

    /// <summary>The INVITE that got past the challenge, when there was one.</summary>
    public SipPacket? AuthorizedInvite { get; internal set; }

    public RtpEndpoint Media { get; }

    public long ReceivedAt { get; }

    /// <summary>When the phone sent its 200 OK (a <see cref="Stopwatch"/> timestamp).</summary>
    public long? AnsweredAt { get; internal set; }

    public long? AckedAt { get; internal set; }

    /// <summary>When the call ended at the phone.</summary>
    public long? EndedAt { get; private set; }

    /// <summary>Completes when the 200 OK has been sent.</summary>
    public Task Answered => _answered.Task;

    /// <summary>Completes with how the call ended: <c>bye-received</c>, <c>bye-sent</c>, <c>canceled</c>, <c>refused</c> or <c>unanswered</c>.</summary>
    public Task<string> Ended => _ended.Task;

    /// <summary>The time from the 200 OK to the first packet carrying speech; null when none came.</summary>
    public TimeSpan? AnswerToSpeech => Media.SpeechSince(AnsweredAt);

    /// <summary>The time from the 200 OK to the first RTP packet of any kind.</summary>
    public TimeSpan? AnswerToFirstPacket => AnsweredAt is { } answered && Media.Report().FirstPacket is { } first ? Stopwatch.GetElapsedTime(answered, first) : null;

    /// <summary>Completes once the phone has heard <paramref name="audiblePackets"/> packets of speech (<see cref="RtpEndpoint.HeardAsync"/>).</summary>
    public Task HeardAsync(int audiblePackets, TimeSpan within) => Media.HeardAsync(audiblePackets, within);

    internal SipPacket? LastResponse { get; set; }

    internal byte[]? LastResponseBytes { get; set; }

    internal int LocalCSeq { get; set; } = 1;

    internal void MarkAnswered()
    {
        AnsweredAt = Stopwatch.GetTimestamp();
        _answered.TrySetResult();
    }

    internal void End(string how)
    {
        if (_ended.TrySetResult(how))
        {
            EndedAt = Stopwatch.GetTimestamp();
        }
    }

    public override string ToString() => $"{CallId} to {User}";
}
