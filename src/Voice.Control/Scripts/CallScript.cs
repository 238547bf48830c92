using System.Text.Json;
using Voice.Control.Calls;

namespace Voice.Control.Scripts;

/// <summary>One thing wrong with a script: where (<c>verbs[2].gather.numDigits</c>) and why.</summary>
public sealed record ScriptProblem(string Path, string Reason)
{
    public override string ToString() => $"{Path}: {Reason}";
}

/// <summary>A script that cannot run, with everything wrong with it.</summary>
public sealed class ScriptException(IReadOnlyList<ScriptProblem> problems)
    : ArgumentException(string.Join("; ", problems))
{
    public IReadOnlyList<ScriptProblem> Problems { get; } = problems;
}

/// <summary>
/// A call's script: the verbs it runs in order, read from jambonz-shaped JSON (<c>[{"verb":"say","text":"…"}, …]</c>)
/// with every field checked: a wrong type, an unknown property, a value out of range is a problem naming its path,
/// and all of them are reported at once.
/// </summary>
public sealed class CallScript
{
    /// <summary>The most verbs one script (or one hook's answer) may hold.</summary>
    public const int MaxVerbs = 50;

    /// <summary>The longest hook or audio URL.</summary>
    public const int MaxUrlLength = 2048;

    /// <summary>The most digits one <c>dtmf</c> verb sends, pauses included.</summary>
    public const int MaxDtmfLength = 64;

    public CallScript(IReadOnlyList<Verb> verbs)
    {
        Verbs = verbs;
    }

    public IReadOnlyList<Verb> Verbs { get; }

    /// <summary>The shorthand of the original API: <c>message</c> said <paramref name="repeat"/> times.</summary>
    public static CallScript Say(string message, string? voice = null, int repeat = 1) => new([new SayVerb(message, voice, repeat)]);

    /// <summary>The alert shorthand: <paramref name="message"/> (<paramref name="repeat"/> times), then the question of <paramref name="rules"/>, until acknowledged or out of tries.</summary>
    public static CallScript Acknowledge(string message, Acknowledgement rules, string? voice = null, int repeat = 1) =>
        new([new AcknowledgeVerb(new SayVerb(message, voice, repeat), rules)]);

    /// <summary>Everything the script says, nested prompts included, in order: what is rendered when dialling starts.</summary>
    public IEnumerable<SayVerb> Says()
    {
        foreach (var verb in Verbs)
        {
            switch (verb)
            {
                case SayVerb say:
                    yield return say;
                    break;
                case GatherVerb gather:
                    if (gather.Prompt is SayVerb prompt)
                    {
                        yield return prompt;
                    }
                    if (gather.InvalidPrompt is { } invalid)
                    {
                        yield return invalid;
                    }
                    break;
                case AcknowledgeVerb acknowledge:
                    yield return acknowledge.Message;
                    yield return new SayVerb(acknowledge.Rules.Question, acknowledge.Message.Voice);
                    yield return new SayVerb(acknowledge.Rules.Confirmation, acknowledge.Message.Voice);
                    break;
            }
        }
    }

    /// <summary>Whether a verb calls a hook (a gather with an actionHook, a redirect): the hook's fallback is then rendered too.</summary>
    public bool CallsHooks => Verbs.Any(v => v is RedirectVerb or GatherVerb { ActionHook: not null });

    /// <summary>What the script says, in one line, for history and logs (the first 1000 characters).</summary>
    public string Summary
    {
        get
        {
            var text = string.Join(" ", Says().Select(s => s.Text).Distinct(StringComparer.Ordinal));
            return text.Length <= CallFieldRules.MaxMessageLength ? text : text[..CallFieldRules.MaxMessageLength];
        }
    }

    /// <summary>Reads a script; throws <see cref="ScriptException"/> with every problem.</summary>
    public static CallScript Parse(JsonElement json, string path = "verbs") =>
        TryParse(json, out var script, out var problems, path) ? script! : throw new ScriptException(problems);

    /// <summary>Reads a script; false with every problem, each naming its path under <paramref name="path"/>.</summary>
    public static bool TryParse(JsonElement json, out CallScript? script, out IReadOnlyList<ScriptProblem> problems, string path = "verbs")
    {
        var reader = new ScriptReader();
        var verbs = reader.Script(json, path);
        problems = reader.Problems;
        script = problems.Count == 0 ? new CallScript(verbs) : null;
        return script is not null;
    }
}

/// <summary>Reads verbs field by field, collecting problems with their paths instead of stopping at the first.</summary>
internal sealed class ScriptReader
{
    private static readonly Dictionary<string, string[]> Properties = new(StringComparer.Ordinal)
    {
        ["say"] = ["verb", "text", "voice", "loop"],
        ["play"] = ["verb", "url", "loop"],
        ["pause"] = ["verb", "length"],
        ["gather"] = ["verb", "input", "numDigits", "minDigits", "maxDigits", "finishOnKey", "timeout", "interDigitTimeout", "say", "play", "actionHook", "tries", "invalidSay"],
        ["dtmf"] = ["verb", "dtmf", "duration"],
        ["hangup"] = ["verb"],
        ["tag"] = ["verb", "data"],
        ["redirect"] = ["verb", "actionHook"],
        ["record"] = ["verb", "action", "mixType"],
        ["dial"] = ["verb", "target", "timeout", "callerId"],
    };

    private static readonly string[] AudioExtensions = [".wav", ".mp3", ".ogg", ".opus", ".flac"];

    private readonly List<ScriptProblem> _problems = [];

    public IReadOnlyList<ScriptProblem> Problems => _problems;

    public List<Verb> Script(JsonElement json, string path)
    {
        var verbs = new List<Verb>();
        if (json.ValueKind != JsonValueKind.Array)
        {
            Problem(path, "must be a list of verbs");
            return verbs;
        }
        var count = json.GetArrayLength();
        if (count == 0)
        {
            Problem(path, "must hold at least one verb");
        }
        else if (count > CallScript.MaxVerbs)
        {
            Problem(path, $"has {count} verbs; at most {CallScript.MaxVerbs}");
            return verbs;
        }
        var i = 0;
        foreach (var element in json.EnumerateArray())
        {
            if (ReadVerb(element, $"{path}[{i++}]") is { } verb)
            {
                verbs.Add(verb);
            }
        }
        return verbs;
    }

    private Verb? ReadVerb(JsonElement json, string path)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            Problem(path, "must be a verb: an object with \"verb\"");
            return null;
        }
        if (!json.TryGetProperty("verb", out var name) || name.ValueKind != JsonValueKind.String)
        {
            Problem(path + ".verb", "is required: one of " + string.Join(", ", Properties.Keys));
            return null;
        }
        var verb = name.GetString()!;
        if (!Properties.ContainsKey(verb))
        {
            Problem(path + ".verb", $"'{Preview(verb)}' is not a verb VoiceBridge runs; one of {string.Join(", ", Properties.Keys)}");
            return null;
        }
        return Body(verb, json, $"{path}.{verb}");
    }

    /// <summary>A verb's fields; <paramref name="path"/> names the verb (<c>verbs[0].say</c>).</summary>
    private Verb? Body(string verb, JsonElement json, string path)
    {
        var before = _problems.Count;
        Unknown(json, path, Properties[verb]);
        Verb? result = verb switch
        {
            "say" => Say(json, path),
            "play" => new PlayVerb(AudioUrl(json, path, "url") ?? string.Empty, Int(json, path, "loop", 1, 10) ?? 1),
            "pause" => new PauseVerb(Seconds(json, path, "length", 0.1, 60, required: true) ?? TimeSpan.Zero),
            "gather" => Gather(json, path),
            "dtmf" => Dtmf(json, path),
            "hangup" => new HangupVerb(),
            "tag" => Tag(json, path),
            "record" => Record(json, path),
            "dial" => Dial(json, path),
            _ => new RedirectVerb(Hook(json, path, "actionHook", required: true)!),
        };
        return _problems.Count == before ? result : null;
    }

    private SayVerb Say(JsonElement json, string path)
    {
        var text = String(json, path, "text", required: true);
        if (text is not null)
        {
            if (text.Length == 0)
            {
                Problem(path + ".text", "must not be empty");
            }
            else if (text.Length > CallFieldRules.MaxMessageLength)
            {
                Problem(path + ".text", $"has {text.Length} characters; at most {CallFieldRules.MaxMessageLength}");
            }
            else if (text.Any(char.IsControl))
            {
                Problem(path + ".text", "must not contain control characters (line breaks, NUL); write it on one line");
            }
        }
        var voice = String(json, path, "voice");
        if (voice is not null && !CallFieldRules.IsVoiceName(voice))
        {
            Problem(path + ".voice", "must be a voice name or id (letters, digits, _ - .)");
        }
        return new SayVerb(text ?? string.Empty, voice, Int(json, path, "loop", 1, 10) ?? 1);
    }

    private GatherVerb Gather(JsonElement json, string path)
    {
        if (json.TryGetProperty("input", out var input)
            && (input.ValueKind != JsonValueKind.Array || input.EnumerateArray().Any(i => i.ValueKind != JsonValueKind.String || i.GetString() != "digits")))
        {
            Problem(path + ".input", "must be [\"digits\"]: speech input is not supported");
        }
        var numDigits = Int(json, path, "numDigits", 1, 32);
        var minDigits = Int(json, path, "minDigits", 1, 32);
        var maxDigits = Int(json, path, "maxDigits", 1, 32);
        if (numDigits is not null && (minDigits is not null || maxDigits is not null))
        {
            Problem(path + ".numDigits", "give numDigits, or minDigits and maxDigits, not both");
        }
        var fewest = minDigits ?? 1;
        var most = maxDigits ?? Math.Max(fewest, 1);
        if (fewest > most)
        {
            Problem(path + ".minDigits", $"is {fewest}, more than maxDigits ({most})");
        }
        char? finishOnKey = null;
        if (String(json, path, "finishOnKey") is { } key)
        {
            if (key.Length == 1 && IsKey(key[0]))
            {
                finishOnKey = key[0];
            }
            else
            {
                Problem(path + ".finishOnKey", "must be one key: 0-9, * or #");
            }
        }
        var hasSay = json.TryGetProperty("say", out var say);
        var hasPlay = json.TryGetProperty("play", out var play);
        Verb? prompt = null;
        if (hasSay && hasPlay)
        {
            Problem(path + ".say", "give a say or a play prompt, not both");
        }
        else if (hasSay || hasPlay)
        {
            prompt = Nested(hasSay ? "say" : "play", hasSay ? say : play, path);
        }
        SayVerb? invalid = null;
        if (json.TryGetProperty("invalidSay", out var invalidSay))
        {
            invalid = Nested("say", invalidSay, path, "invalidSay") as SayVerb;
        }
        return new GatherVerb
        {
            NumDigits = numDigits,
            MinDigits = fewest,
            MaxDigits = most,
            FinishOnKey = finishOnKey,
            Timeout = Seconds(json, path, "timeout", 1, 60) ?? TimeSpan.FromSeconds(5),
            InterDigitTimeout = Seconds(json, path, "interDigitTimeout", 1, 30) ?? TimeSpan.FromSeconds(3),
            Prompt = prompt,
            ActionHook = Hook(json, path, "actionHook", required: false),
            Tries = Int(json, path, "tries", 1, 5) ?? 1,
            InvalidPrompt = invalid,
        };
    }

    /// <summary>A say or play inside a gather, in jambonz's shape (the verb's fields, without <c>verb</c>).</summary>
    private Verb? Nested(string verb, JsonElement json, string path, string? property = null)
    {
        var nestedPath = $"{path}.{property ?? verb}";
        if (json.ValueKind != JsonValueKind.Object)
        {
            Problem(nestedPath, $"must be an object with the fields of {verb}");
            return null;
        }
        var before = _problems.Count;
        Unknown(json, nestedPath, Properties[verb]);
        Verb result = verb == "say" ? Say(json, nestedPath) : new PlayVerb(AudioUrl(json, nestedPath, "url") ?? string.Empty, Int(json, nestedPath, "loop", 1, 10) ?? 1);
        return _problems.Count == before ? result : null;
    }

    private DtmfVerb Dtmf(JsonElement json, string path)
    {
        var digits = String(json, path, "dtmf", required: true);
        if (digits is not null)
        {
            if (digits.Length is 0 or > CallScript.MaxDtmfLength)
            {
                Problem(path + ".dtmf", $"must have 1 to {CallScript.MaxDtmfLength} characters");
            }
            else if (digits.FirstOrDefault(c => !IsKey(c) && c is not (>= 'A' and <= 'D') and not 'w' and not 'W') is var bad and not '\0')
            {
                Problem(path + ".dtmf", $"'{Preview(bad.ToString())}' is not a key: digits 0-9, * # A-D, w (wait 0.5 s) or W (wait 1 s)");
            }
        }
        var duration = Int(json, path, "duration", 40, 2000) ?? 250;
        return new DtmfVerb(digits ?? string.Empty, TimeSpan.FromMilliseconds(duration));
    }

    /// <summary>jambonz's target list: <c>[{"type":"phone","number":"+1…"}, {"type":"user","name":"101"}]</c>.</summary>
    private DialVerb Dial(JsonElement json, string path)
    {
        var targets = new List<string>();
        if (!json.TryGetProperty("target", out var list) || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() is 0 or > DialVerb.MaxTargets)
        {
            Problem(path + ".target", $"is required: a list of 1–{DialVerb.MaxTargets} targets, {{\"type\":\"phone\",\"number\":…}} or {{\"type\":\"user\",\"name\":…}}");
        }
        else
        {
            var i = 0;
            foreach (var target in list.EnumerateArray())
            {
                var targetPath = $"{path}.target[{i++}]";
                var type = target.ValueKind == JsonValueKind.Object ? String(target, targetPath, "type", required: true) : null;
                var field = type switch { "phone" => "number", "user" => "name", _ => null };
                if (field is null)
                {
                    Problem(targetPath + ".type", "must be phone (a number) or user (a PBX extension)");
                    continue;
                }
                Unknown(target, targetPath, ["type", field]);
                var value = String(target, targetPath, field, required: true);
                if (value is not null && (value.Length is 0 or > 64 || value.Any(char.IsControl)))
                {
                    Problem($"{targetPath}.{field}", "must be a phone number or extension, at most 64 characters");
                }
                else if (value is not null)
                {
                    targets.Add(value);
                }
            }
        }
        var callerId = String(json, path, "callerId");
        if (callerId is not null && !CallFieldRules.IsCallerId(callerId))
        {
            Problem(path + ".callerId", "must be a phone number or SIP user");
        }
        return new DialVerb(targets, Seconds(json, path, "timeout", 5, 120) ?? TimeSpan.FromSeconds(30), callerId);
    }

    private RecordVerb Record(JsonElement json, string path)
    {
        var action = String(json, path, "action", required: true);
        if (action is not null and not ("start" or "stop"))
        {
            Problem(path + ".action", "must be start or stop");
        }
        var mix = String(json, path, "mixType");
        if (mix is not null and not ("stereo" or "mixed"))
        {
            Problem(path + ".mixType", "must be stereo (the far end left, the call's audio right) or mixed (one channel)");
        }
        if (mix is not null && action == "stop")
        {
            Problem(path + ".mixType", "goes with start");
        }
        return new RecordVerb(action == "start", mix != "mixed");
    }

    private TagVerb Tag(JsonElement json, string path)
    {
        if (!json.TryGetProperty("data", out var data))
        {
            Problem(path + ".data", "is required: a JSON object");
        }
        else if (data.ValueKind != JsonValueKind.Object)
        {
            Problem(path + ".data", "must be a JSON object");
        }
        return new TagVerb(data.ValueKind == JsonValueKind.Object ? data.Clone() : default);
    }

    private string? AudioUrl(JsonElement json, string path, string name)
    {
        var url = String(json, path, name, required: true);
        if (url is null)
        {
            return null;
        }
        var isHttp = Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);
        var isFile = url.StartsWith('/') && !url.Contains("..", StringComparison.Ordinal) && AudioExtensions.Any(e => url.EndsWith(e, StringComparison.OrdinalIgnoreCase));
        if (url.Length > CallScript.MaxUrlLength || url.Any(char.IsControl) || (!isHttp && !isFile))
        {
            Problem($"{path}.{name}", $"must be an http(s) URL or an absolute path to a {string.Join('/', AudioExtensions)} file on the media server, at most {CallScript.MaxUrlLength} characters");
            return null;
        }
        return url;
    }

    private Uri? Hook(JsonElement json, string path, string name, bool required)
    {
        var url = String(json, path, name, required);
        if (url is null)
        {
            return null;
        }
        if (url.Length > CallScript.MaxUrlLength || url.Any(char.IsControl)
            || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            Problem($"{path}.{name}", $"must be an absolute http or https URL, at most {CallScript.MaxUrlLength} characters");
            return null;
        }
        return uri;
    }

    private string? String(JsonElement json, string path, string name, bool required = false)
    {
        if (!json.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                Problem($"{path}.{name}", "is required");
            }
            return null;
        }
        if (value.ValueKind != JsonValueKind.String)
        {
            Problem($"{path}.{name}", "must be a string");
            return null;
        }
        return value.GetString();
    }

    private int? Int(JsonElement json, string path, string name, int min, int max)
    {
        if (!json.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var number))
        {
            Problem($"{path}.{name}", $"must be a whole number from {min} to {max}");
            return null;
        }
        if (number < min || number > max)
        {
            Problem($"{path}.{name}", $"is {number}; must be from {min} to {max}");
            return null;
        }
        return number;
    }

    private TimeSpan? Seconds(JsonElement json, string path, string name, double min, double max, bool required = false)
    {
        if (!json.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                Problem($"{path}.{name}", $"is required: seconds, from {min} to {max}");
            }
            return null;
        }
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var seconds) || seconds < min || seconds > max)
        {
            Problem($"{path}.{name}", $"must be a number of seconds from {min} to {max}");
            return null;
        }
        return TimeSpan.FromSeconds(seconds);
    }

    private void Unknown(JsonElement json, string path, string[] allowed)
    {
        foreach (var property in json.EnumerateObject())
        {
            if (!allowed.Contains(property.Name, StringComparer.Ordinal))
            {
                Problem($"{path}.{Preview(property.Name)}", $"is not a field of this verb; it has {string.Join(", ", allowed.Where(a => a != "verb"))}");
            }
        }
    }

    private static bool IsKey(char c) => c is (>= '0' and <= '9') or '*' or '#';

    /// <summary>A name or value from the request, shortened and printable, for a problem's text.</summary>
    private static string Preview(string value) =>
        new([.. value.Take(40).Select(c => char.IsControl(c) ? '?' : c)]);

    private void Problem(string path, string reason) => _problems.Add(new ScriptProblem(path, reason));
}
