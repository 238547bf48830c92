using Voice.Control.Phone;
using Voice.Control.Sip;

namespace Voice.Control.Calls;

/// <summary>How this deployment places calls: numbers, trunk, limits and defaults.</summary>
public sealed record CallOptions
{
    public DialPlan DialPlan { get; init; } = new();

    public PhoneNumberRules Numbers { get; init; } = PhoneNumberRules.Default;

    public DestinationPolicy Policy { get; init; } = DestinationPolicy.Default;

    /// <summary>The caller ID when a request names none (<c>DEFAULT_CALLER_ID</c>).</summary>
    public string? DefaultCallerId { get; init; }

    /// <summary>Where INVITEs are sent, when not to the Request-URI's host (<c>SIP_OUTBOUND_PROXY</c>).</summary>
    public string? OutboundProxy { get; init; }

    /// <summary>Digest credentials for the trunk (<c>SIP_AUTH_USERNAME</c> / <c>SIP_AUTH_PASSWORD</c>).</summary>
    public SipCredentials? Credentials { get; init; }

    public TimeSpan DefaultRingTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest call after answer, unless a request asks for less.</summary>
    public TimeSpan MaxCallDuration { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Silence between repeats of the message.</summary>
    public TimeSpan RepeatPause { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a script's hook (a gather's <c>actionHook</c>, a <c>redirect</c>) may take to answer, 1–30 s.</summary>
    public TimeSpan HookTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Said when a hook fails (no answer in time, an error status, an answer that is not a verb list); the script then goes on.</summary>
    public string HookFailureMessage { get; init; } = "Sorry, something went wrong.";

    /// <summary>
    /// What calls that come in hear, by name (a dialplan's <c>voicebridge_app</c>, an inbound route); a call that
    /// names none runs <c>default</c>.
    /// </summary>
    public IReadOnlyDictionary<string, Scripts.CallApplication> Applications { get; init; } = new Dictionary<string, Scripts.CallApplication>(StringComparer.Ordinal);

    /// <summary>
    /// Which application SIP calls to VoiceBridge run, by the number or user called (<see cref="Scripts.InboundRoute"/>); the
    /// first match wins. Empty: VoiceBridge takes no INVITEs (drachtio-server is not asked to route them).
    /// </summary>
    public IReadOnlyList<Scripts.InboundRoute> InboundRoutes { get; init; } = [];

    /// <summary>Callers whose calls are refused (403): exact numbers or users, or prefixes ending in <c>*</c> (<c>+1900*</c>).</summary>
    public IReadOnlyList<string> DeniedCallers { get; init; } = [];

    /// <summary>Calls one caller may make to VoiceBridge in a minute; more are refused (486). 0: no limit.</summary>
    public int InboundCallsPerCallerPerMinute { get; init; } = 10;

    /// <summary>Calls in progress at once (dialing, ringing or playing).</summary>
    public int MaxConcurrentCalls { get; init; } = 50;

    /// <summary>Calls started per second, so a burst does not flood the trunk.</summary>
    public double CallsPerSecond { get; init; } = 10;

    /// <summary>Calls waiting to start; beyond this a request is refused with <see cref="CallQueueFullException"/>.</summary>
    public int MaxQueuedCalls { get; init; } = 1000;

    /// <summary>State changes a <see cref="IOutboundCalls.WatchAsync(CancellationToken)"/> reader may fall behind before it is ended.</summary>
    public int WatchCapacity { get; init; } = 1000;

    /// <summary>How long an ended call stays readable through <see cref="IOutboundCalls.Get"/> (the host keeps history for longer).</summary>
    public TimeSpan EndedCallRetention { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Where call recordings go; null: calls cannot record (a <c>record</c> verb is reported as failed, a request to record is refused).</summary>
    public CallRecordingOptions? Recording { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        DialPlan.Validate();
        Recording?.Validate();
        if (DefaultCallerId is not null && !CallFieldRules.IsCallerId(DefaultCallerId))
        {
            throw new ArgumentException($"DefaultCallerId '{DefaultCallerId}' is not a phone number or SIP user.", nameof(DefaultCallerId));
        }
        if (OutboundProxy is not null && !SipUri.TryParse(OutboundProxy, out _))
        {
            throw new ArgumentException($"OutboundProxy '{OutboundProxy}' is not a sip: URI.", nameof(OutboundProxy));
        }
        if (DefaultRingTimeout < TimeSpan.FromSeconds(5) || DefaultRingTimeout > TimeSpan.FromSeconds(120))
        {
            throw new ArgumentException("DefaultRingTimeout must be 5–120 s.", nameof(DefaultRingTimeout));
        }
        if (MaxCallDuration <= TimeSpan.Zero || RepeatPause < TimeSpan.Zero || EndedCallRetention < TimeSpan.Zero)
        {
            throw new ArgumentException("MaxCallDuration must be positive; RepeatPause and EndedCallRetention not negative.");
        }
        if (HookTimeout < TimeSpan.FromSeconds(1) || HookTimeout > TimeSpan.FromSeconds(30))
        {
            throw new ArgumentException("HookTimeout must be 1–30 s.", nameof(HookTimeout));
        }
        if (string.IsNullOrWhiteSpace(HookFailureMessage) || HookFailureMessage.Length > CallFieldRules.MaxMessageLength || HookFailureMessage.Any(char.IsControl))
        {
            throw new ArgumentException($"HookFailureMessage must be 1–{CallFieldRules.MaxMessageLength} characters on one line: a failing hook is never a silent call.", nameof(HookFailureMessage));
        }
        foreach (var (name, application) in Applications)
        {
            if (!CallFieldRules.IsApplicationName(name))
            {
                throw new ArgumentException($"Application name '{name}' must be 1–64 letters, digits, _ or -.", nameof(Applications));
            }
            if (application.Problem() is { } problem)
            {
                throw new ArgumentException($"Application '{name}' {problem}.", nameof(Applications));
            }
        }
        foreach (var route in InboundRoutes)
        {
            if (string.IsNullOrWhiteSpace(route.Pattern) || route.Pattern.Any(char.IsControl) || route.Pattern.IndexOf('*', StringComparison.Ordinal) is >= 0 and var star && star != route.Pattern.Length - 1)
            {
                throw new ArgumentException($"Inbound route pattern '{route.Pattern}' must be a number or user, a prefix ending in '*', or '*'.", nameof(InboundRoutes));
            }
            if (!Applications.ContainsKey(route.Application))
            {
                throw new ArgumentException($"Inbound route '{route.Pattern}' names application '{route.Application}', which is not configured.", nameof(InboundRoutes));
            }
        }
        if (InboundCallsPerCallerPerMinute < 0)
        {
            throw new ArgumentException("InboundCallsPerCallerPerMinute must not be negative (0: no limit).", nameof(InboundCallsPerCallerPerMinute));
        }
        if (DeniedCallers.Any(c => string.IsNullOrWhiteSpace(c) || c.Any(char.IsControl) || c.IndexOf('*', StringComparison.Ordinal) is >= 0 and var star && star != c.Length - 1))
        {
            throw new ArgumentException("DeniedCallers are numbers or users, or prefixes ending in '*'.", nameof(DeniedCallers));
        }
        if (WatchCapacity < 1)
        {
            throw new ArgumentException("WatchCapacity must be at least 1.");
        }
        if (MaxConcurrentCalls < 1 || MaxQueuedCalls < 0 || !(CallsPerSecond > 0))
        {
            throw new ArgumentException("MaxConcurrentCalls and CallsPerSecond must be positive, MaxQueuedCalls not negative.");
        }
    }
}
