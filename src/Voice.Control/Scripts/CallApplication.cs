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
