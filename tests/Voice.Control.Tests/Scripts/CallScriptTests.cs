using System.Text.Json;
using Voice.Control.Scripts;

namespace Voice.Control.Tests.Scripts;

/// <summary>Scripts as jambonz-shaped JSON: every verb read with its defaults, every mistake named by its path, all at once.</summary>
public class CallScriptTests
{
    private static CallScript Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return CallScript.Parse(document.RootElement);
    }

    private static IReadOnlyList<ScriptProblem> Problems(string json)
    {
        using var document = JsonDocument.Parse(json);
        Assert.That(CallScript.TryParse(document.RootElement, out var script, out var problems), Is.False, "the script is refused");
        Assert.That(script, Is.Null);
        return problems;
    }

    [Test]
    public void An_acknowledgement_script_reads_as_the_verbs_it_names()
    {
        var script = Parse("""
            [
              {"verb":"say","text":"Disk full on nas-01.","voice":"en-US-Neural","loop":2},
              {"verb":"gather","input":["digits"],"numDigits":1,"timeout":8,"actionHook":"https://n8n.example/webhook/ack",
               "say":{"text":"Press 1 to acknowledge, 2 to hear it again."},"tries":3,"invalidSay":{"text":"Sorry."}},
              {"verb":"pause","length":1.5},
              {"verb":"play","url":"https://example.com/beep.wav"},
              {"verb":"dtmf","dtmf":"12w#","duration":100},
              {"verb":"tag","data":{"ticket":42}},
              {"verb":"redirect","actionHook":"http://127.0.0.1:5678/next"},
              {"verb":"hangup"}
            ]
            """);

        Assert.That(script.Verbs.Select(v => v.Name), Is.EqualTo(new[] { "say", "gather", "pause", "play", "dtmf", "tag", "redirect", "hangup" }));
        Assert.That(script.Verbs[0], Is.EqualTo(new SayVerb("Disk full on nas-01.", "en-US-Neural", 2)));
        var gather = (GatherVerb)script.Verbs[1];
        Assert.That((gather.Fewest, gather.Most, gather.Timeout, gather.InterDigitTimeout, gather.Tries), Is.EqualTo((1, 1, TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(3), 3)));
        Assert.That(gather.Prompt, Is.EqualTo(new SayVerb("Press 1 to acknowledge, 2 to hear it again.")));
        Assert.That(gather.InvalidPrompt, Is.EqualTo(new SayVerb("Sorry.")));
        Assert.That(gather.ActionHook, Is.EqualTo(new Uri("https://n8n.example/webhook/ack")));
        Assert.That(script.Verbs[2], Is.EqualTo(new PauseVerb(TimeSpan.FromSeconds(1.5))));
        Assert.That(script.Verbs[3], Is.EqualTo(new PlayVerb("https://example.com/beep.wav")));
        Assert.That(script.Verbs[4], Is.EqualTo(new DtmfVerb("12w#", TimeSpan.FromMilliseconds(100))));
        Assert.That(((TagVerb)script.Verbs[5]).Data.GetProperty("ticket").GetInt32(), Is.EqualTo(42), "the data outlives the document it was read from");
        Assert.That(script.Verbs[6], Is.EqualTo(new RedirectVerb(new Uri("http://127.0.0.1:5678/next"))));
    }

    [Test]
    public void A_gather_without_limits_takes_one_key_and_a_range_is_kept()
    {
        var script = Parse("""[{"verb":"gather"},{"verb":"gather","minDigits":2,"maxDigits":6,"finishOnKey":"#","play":{"url":"/usr/share/sounds/pin.wav"}}]""");
        var single = (GatherVerb)script.Verbs[0];
        Assert.That((single.Fewest, single.Most, single.FinishOnKey, single.Prompt, single.ActionHook), Is.EqualTo((1, 1, (char?)null, (Verb?)null, (Uri?)null)));
        var range = (GatherVerb)script.Verbs[1];
        Assert.That((range.Fewest, range.Most, range.FinishOnKey), Is.EqualTo((2, 6, (char?)'#')));
        Assert.That(range.Prompt, Is.EqualTo(new PlayVerb("/usr/share/sounds/pin.wav")));
    }

    [Test]
    public void The_message_shorthand_is_one_say()
    {
        Assert.That(CallScript.Say("Backup failed.", repeat: 2).Verbs, Is.EqualTo(new Verb[] { new SayVerb("Backup failed.", null, 2) }));
    }

    [TestCase("""{"verb":"say"}""", "verbs", "must be a list of verbs")]
    [TestCase("[]", "verbs", "must hold at least one verb")]
    [TestCase("""["say"]""", "verbs[0]", "must be a verb")]
    [TestCase("""[{"text":"hi"}]""", "verbs[0].verb", "is required")]
    [TestCase("""[{"verb":"conference"}]""", "verbs[0].verb", "'conference' is not a verb VoiceBridge runs")]
    [TestCase("""[{"verb":"say"}]""", "verbs[0].say.text", "is required")]
    [TestCase("""[{"verb":"say","text":""}]""", "verbs[0].say.text", "must not be empty")]
    [TestCase("""[{"verb":"say","text":"a\nb"}]""", "verbs[0].say.text", "must not contain control characters")]
    [TestCase("""[{"verb":"say","text":42}]""", "verbs[0].say.text", "must be a string")]
    [TestCase("""[{"verb":"say","text":"hi","loop":0}]""", "verbs[0].say.loop", "is 0; must be from 1 to 10")]
    [TestCase("""[{"verb":"say","text":"hi","loop":1.5}]""", "verbs[0].say.loop", "must be a whole number")]
    [TestCase("""[{"verb":"say","text":"hi","voice":"../x"}]""", "verbs[0].say.voice", "must be a voice name")]
    [TestCase("""[{"verb":"say","text":"hi","synthesizer":{}}]""", "verbs[0].say.synthesizer", "is not a field of this verb; it has text, voice, loop")]
    [TestCase("""[{"verb":"play","url":"file:///etc/passwd"}]""", "verbs[0].play.url", "must be an http(s) URL or an absolute path")]
    [TestCase("""[{"verb":"play","url":"/etc/passwd"}]""", "verbs[0].play.url", "must be an http(s) URL or an absolute path")]
    [TestCase("""[{"verb":"play","url":"/sounds/../../etc/x.wav"}]""", "verbs[0].play.url", "must be an http(s) URL or an absolute path")]
    [TestCase("""[{"verb":"pause"}]""", "verbs[0].pause.length", "is required")]
    [TestCase("""[{"verb":"pause","length":61}]""", "verbs[0].pause.length", "must be a number of seconds from 0.1 to 60")]
    [TestCase("""[{"verb":"gather","numDigits":0}]""", "verbs[0].gather.numDigits", "is 0; must be from 1 to 32")]
    [TestCase("""[{"verb":"gather","numDigits":2,"maxDigits":4}]""", "verbs[0].gather.numDigits", "not both")]
    [TestCase("""[{"verb":"gather","minDigits":5,"maxDigits":4}]""", "verbs[0].gather.minDigits", "is 5, more than maxDigits (4)")]
    [TestCase("""[{"verb":"gather","finishOnKey":"x"}]""", "verbs[0].gather.finishOnKey", "must be one key")]
    [TestCase("""[{"verb":"gather","input":["speech"]}]""", "verbs[0].gather.input", "speech input is not supported")]
    [TestCase("""[{"verb":"gather","timeout":0}]""", "verbs[0].gather.timeout", "must be a number of seconds from 1 to 60")]
    [TestCase("""[{"verb":"gather","say":{"text":"a"},"play":{"url":"https://x/a.wav"}}]""", "verbs[0].gather.say", "not both")]
    [TestCase("""[{"verb":"gather","say":{"txt":"a"}}]""", "verbs[0].gather.say.txt", "is not a field of this verb")]
    [TestCase("""[{"verb":"gather","say":{}}]""", "verbs[0].gather.say.text", "is required")]
    [TestCase("""[{"verb":"gather","invalidSay":"sorry"}]""", "verbs[0].gather.invalidSay", "must be an object with the fields of say")]
    [TestCase("""[{"verb":"gather","actionHook":"ftp://x/"}]""", "verbs[0].gather.actionHook", "must be an absolute http or https URL")]
    [TestCase("""[{"verb":"gather","tries":6}]""", "verbs[0].gather.tries", "is 6; must be from 1 to 5")]
    [TestCase("""[{"verb":"dtmf","dtmf":"12x"}]""", "verbs[0].dtmf.dtmf", "'x' is not a key")]
    [TestCase("""[{"verb":"dtmf","dtmf":""}]""", "verbs[0].dtmf.dtmf", "must have 1 to 64 characters")]
    [TestCase("""[{"verb":"dtmf","dtmf":"1","duration":10}]""", "verbs[0].dtmf.duration", "is 10; must be from 40 to 2000")]
    [TestCase("""[{"verb":"tag"}]""", "verbs[0].tag.data", "is required")]
    [TestCase("""[{"verb":"tag","data":[1]}]""", "verbs[0].tag.data", "must be a JSON object")]
    [TestCase("""[{"verb":"redirect"}]""", "verbs[0].redirect.actionHook", "is required")]
    [TestCase("""[{"verb":"hangup","headers":{}}]""", "verbs[0].hangup.headers", "is not a field of this verb")]
    public void A_mistake_is_named_by_its_path(string json, string path, string reason)
    {
        var problems = Problems(json);
        Assert.That(problems.Select(p => p.Path), Does.Contain(path), string.Join("; ", problems));
        Assert.That(problems.First(p => p.Path == path).Reason, Does.Contain(reason));
    }

    [Test]
    public void Every_mistake_is_reported_at_once_with_the_index_of_its_verb()
    {
        var problems = Problems("""[{"verb":"say","text":"ok"},{"verb":"gather","numDigits":99},{"verb":"dtmf","dtmf":"9z"}]""");
        Assert.That(problems.Select(p => p.Path), Is.EqualTo(new[] { "verbs[1].gather.numDigits", "verbs[2].dtmf.dtmf" }));
        using var document = JsonDocument.Parse("""[{"verb":"pause"}]""");
        var thrown = Assert.Throws<ScriptException>(() => CallScript.Parse(document.RootElement, "answer"))!;
        Assert.That(thrown.Message, Is.EqualTo("answer[0].pause.length: is required: seconds, from 0.1 to 60"), "a hook's answer names its own root");
    }

    [Test]
    public void A_script_longer_than_the_limit_is_refused_whole()
    {
        var json = "[" + string.Join(',', Enumerable.Repeat("""{"verb":"hangup"}""", CallScript.MaxVerbs + 1)) + "]";
        Assert.That(Problems(json), Is.EqualTo(new[] { new ScriptProblem("verbs", $"has {CallScript.MaxVerbs + 1} verbs; at most {CallScript.MaxVerbs}") }));
        Assert.That(Parse("[" + string.Join(',', Enumerable.Repeat("""{"verb":"hangup"}""", CallScript.MaxVerbs)) + "]").Verbs, Has.Count.EqualTo(CallScript.MaxVerbs));
    }

    [Test]
    public void A_name_from_the_request_is_shown_shortened_and_printable()
    {
        var problems = Problems("[{\"verb\":\"say\",\"text\":\"hi\",\"" + new string('x', 200) + "\\u0007\":1}]");
        Assert.That(problems.Single().Path, Is.EqualTo("verbs[0].say." + new string('x', 40)));
    }
}
