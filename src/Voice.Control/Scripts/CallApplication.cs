namespace Voice.Control.Scripts;

/// <summary>
/// What a call that comes in hears: a static <see cref="Script"/>, or the verbs its <see cref="CallHook"/> answers
/// with when VoiceBridge POSTs the new call there (signed like webhooks). When the hook fails (its time limit, an
/// error status, an answer that is no verb list) the call hears <see cref="Fallback"/> (by default the hook failure
/// message) and is hung up, with the reason on the call.
/// </summary>
public sealed record CallApplication
{
    /// <summary>The verbs every call of this application runs.</summary>
    public CallScript? Script { get; init; }

    /// <summary>Where each new call is POSTed; its JSON answer is the call's verbs.</summary>
    public Uri? CallHook { get; init; }

    /// <summary>What a call hears when its hook fails; null: <see cref="Calls.CallOptions.HookFailureMessage"/>.</summary>
    public CallScript? Fallback { get; init; }

    /// <summary>The TTS voice of its <c>say</c> verbs that name none; null: the configured default.</summary>
    public string? Voice { get; init; }

    /// <summary>Null when the application can run; otherwise what is wrong with it.</summary>
    public string? Problem() => (Script, CallHook) switch
    {
        (null, null) => "needs a script or a callHook",
        ({ }, { }) => "has both a script and a callHook; give one",
        (_, { } hook) when !hook.IsAbsoluteUri || hook.Scheme is not ("http" or "https") => "callHook must be an absolute http or https URL",
        _ => null,
    };
}

/// <summary>
/// Which application a SIP call to VoiceBridge runs: the first route whose <see cref="Pattern"/> matches the number or
/// user called (the Request-URI's user, or the To's) — exact (<c>4000</c>, <c>+15551234567</c>), a prefix ending in
/// <c>*</c> (<c>+1555*</c>), or <c>*</c> for any. A call no route matches is refused 404.
/// </summary>
public sealed record InboundRoute(string Pattern, string Application)
{
    public bool Matches(string called) => Pattern.EndsWith('*')
        ? called.StartsWith(Pattern[..^1], StringComparison.OrdinalIgnoreCase)
        : string.Equals(called, Pattern, StringComparison.OrdinalIgnoreCase);

    /// <summary>The application of the first route matching any of <paramref name="called"/>, or null.</summary>
    public static string? Find(IReadOnlyList<InboundRoute> routes, params ReadOnlySpan<string?> called)
    {
        foreach (var route in routes)
        {
            foreach (var number in called)
            {
                if (!string.IsNullOrEmpty(number) && route.Matches(number))
                {
                    return route.Application;
                }
            }
        }
        return null;
    }

    /// <summary>Parses <c>pattern=application</c>, as the <c>INBOUND_ROUTES</c> setting lists them.</summary>
    /// <exception cref="FormatException">Not of that form.</exception>
    public static InboundRoute Parse(string text)
    {
        var equals = text.LastIndexOf('=');
        if (equals <= 0 || equals == text.Length - 1)
        {
            throw new FormatException($"Inbound route '{text}' must be pattern=application (4000=alerts, +1555*=support, *=default).");
        }
        return new InboundRoute(text[..equals].Trim(), text[(equals + 1)..].Trim());
    }
}
