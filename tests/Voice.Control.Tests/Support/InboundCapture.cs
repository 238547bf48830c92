using System.Text.RegularExpressions;

namespace Voice.Control.Tests.Support;

/// <summary>
/// The captured call-inbound exchange (SIPp calling, drachtio-srf answering 200, SIPp hanging up), and the frames it did not
/// capture, derived from the captured ones the way drachtio-server builds them: the caller's CANCEL (relayed with the
/// INVITE's transaction id, as drachtio-server's <c>received quick cancel</c> path does), and the echo of a provisional.
/// </summary>
public static partial class InboundCapture
{
    // Frame indices in the capture.
    public const int Authenticate = 0;
    public const int Route = 2;
    public const int Invite = 4;
    public const int Answer = 5;
    public const int AnswerEcho = 6;
    public const int Ack = 7;
    public const int Bye = 8;
    public const int ByeAnswer = 9;

    public const string DialogId = "1-25136@127.0.0.1;from-tag=25136SIPpTag001";
    public const string TransactionId = "19fda2a5-7d02-4ecc-bfec-737386010ea7";

    public static IReadOnlyList<CapturedFrame> Frames { get; } = Captures.Trace("call-inbound");

    /// <summary>The captured INVITE's SDP offer (SIPp: PCMU on port 6000).</summary>
    public static string Offer => Frames[Invite].Sip.Body;

    /// <summary>The SDP drachtio-srf answered with in the capture.</summary>
    public static string AnswerSdp => Frames[Answer].Sip.Body;

    /// <summary>The captured INVITE as drachtio-server relayed it, under a new message id.</summary>
    public static string InviteFrame(Func<string, string>? edit = null) => FreshId((edit ?? (s => s))(Frames[Invite].Message));

    /// <summary>The caller's CANCEL of the INVITE: same Via branch, CSeq 1 CANCEL, no body; the INVITE's transaction id, no dialog id.</summary>
    public static string Cancel()
    {
        var invite = Frames[Invite].Message;
        var head = invite[..invite.IndexOf("\r\n", StringComparison.Ordinal)];
        var sip = Frames[Invite].Sip;
        var lines = new List<string> { $"CANCEL {sip.RequestUri} SIP/2.0" };
        foreach (var header in sip.Headers)
        {
            if (header.Name is "Content-Type" or "Content-Length" or "Contact" or "Subject")
            {
                continue;
            }
            lines.Add($"{header.Name}: {(header.Name == "CSeq" ? "1 CANCEL" : header.Value)}");
        }
        lines.Add("Content-Length: 0");
        return FreshId(head + "\r\n" + string.Join("\r\n", lines) + "\r\n\r\n");
    }

    /// <summary>drachtio-server's echo of a response we sent: the captured echo of the 200, answering <paramref name="requestId"/>, with <paramref name="statusLine"/> and no body.</summary>
    public static string EchoOf(string requestId, string statusLine)
    {
        var echo = Frames[AnswerEcho].Message;
        var crlf = echo.IndexOf("\r\n", StringComparison.Ordinal);
        var fields = echo[..crlf].Split('|');
        fields[0] = FakeDrachtioPeer.NewId();
        fields[2] = requestId;
        var sip = echo[(crlf + 2)..];
        sip = sip[..sip.IndexOf("\r\n\r\n", StringComparison.Ordinal)];
        sip = "SIP/2.0 " + statusLine + sip[sip.IndexOf("\r\n", StringComparison.Ordinal)..];
        sip = ContentHeaders().Replace(sip, string.Empty) + "\r\nContent-Length: 0\r\n\r\n";
        return string.Join('|', fields) + "\r\n" + sip;
    }

    private static string FreshId(string message) => FakeDrachtioPeer.NewId() + message[message.IndexOf('|', StringComparison.Ordinal)..];

    [GeneratedRegex(@"\r\nContent-(Type|Length):[^\r]*")]
    private static partial Regex ContentHeaders();
}
