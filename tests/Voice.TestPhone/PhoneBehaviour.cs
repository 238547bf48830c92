namespace Voice.TestPhone;

/// <summary>How the phone treats an INVITE.</summary>
public sealed record PhoneBehaviour
{
    public static PhoneBehaviour Answering { get; } = new();

    /// <summary>Rings this long (180) before the final answer.</summary>
    public TimeSpan RingFor { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The final status: 200 answers; 486 is busy; anything else refuses. Null never answers (until CANCEL).</summary>
    public int? FinalStatus { get; init; } = 200;

    /// <summary>Ring with 183 and SDP (early media) instead of 180.</summary>
    public bool EarlyMedia { get; init; }

    /// <summary>Challenge the INVITE with 407 (or 401) and accept only a correct digest for these credentials.</summary>
    public (string User, string Password, int Status)? Challenge { get; init; }

    /// <summary>The phone hangs up (BYE) this long after its 200 OK.</summary>
    public TimeSpan? HangUpAfter { get; init; }

    /// <summary>To an INVITE without SDP, offer RTP/SAVP (AES_CM_128_HMAC_SHA1_80) rather than RTP/AVP in the 200 OK.</summary>
    public bool OfferSrtp { get; init; }

    /// <summary>Answers VoiceBridge's BYE (200). When false the phone says nothing to it, retransmissions included, as a phone gone from the network.</summary>
    public bool AnswersBye { get; init; } = true;

    /// <summary>Sends silence back, as real phones do.</summary>
    public bool SendsRtp { get; init; } = true;

    /// <summary>Sends a steady tone of this pitch (PCMU) instead of silence: something of the phone's to find in a recording.</summary>
    public int? ToneHz { get; init; }

    /// <summary>Keys the callee presses (RFC 4733, in its RTP stream), each this long after the call is set up.</summary>
    public IReadOnlyList<(TimeSpan After, char Key)> Presses { get; init; } = [];
}
