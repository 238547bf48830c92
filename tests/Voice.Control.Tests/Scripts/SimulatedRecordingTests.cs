using System.Buffers.Binary;
using System.Text.Json;
using Voice.Control.Calls;
using Voice.Control.Scripts;
using Voice.Control.Simulation;
using Voice.Control.Tests.Calls;
using Voice.Control.Tests.Support;
using Voice.Control.Tts;

namespace Voice.Control.Tests.Scripts;

/// <summary>Recording on the simulated backend: a tone file as long as the recording ran, in the recording directory.</summary>
public class SimulatedRecordingTests
{
    private readonly Owned _owned = new();
    private string _directory = null!;

    [SetUp]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("vb-recordings-").FullName;

    [TearDown]
    public async Task Dispose()
    {
        await _owned.DisposeAllAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private (CallManager Calls, ChangeLog Changes) Start(bool recordingConfigured = true)
    {
        var options = new CallOptions
        {
            RepeatPause = TimeSpan.FromMilliseconds(10),
            Recording = recordingConfigured ? new CallRecordingOptions { Directory = _directory } : null,
        };
        var calls = new CallManager(options, new SimulatedBackend(Simulations.Fast), new FliteSynthesizer(), TestLog.Factory);
        _owned.Add(calls);
        return (calls, new ChangeLog(calls));
    }

    private static CallScript Script(string json) => CallScript.Parse(JsonDocument.Parse(json).RootElement);

    /// <summary>The channels, rate and samples of a 16-bit PCM WAV file with the 44-byte header.</summary>
    private static (int Channels, int Rate, short[] Samples) ReadWav(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.That(bytes.AsSpan(0, 4).SequenceEqual("RIFF"u8) && bytes.AsSpan(8, 4).SequenceEqual("WAVE"u8), Is.True, "a WAV file");
        var channels = BinaryPrimitives.ReadInt16LittleEndian(bytes.AsSpan(22));
        var rate = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(24));
        var samples = new short[(bytes.Length - 44) / 2];
        for (var i = 0; i < samples.Length; i++)
        {
            samples[i] = BinaryPrimitives.ReadInt16LittleEndian(bytes.AsSpan(44 + 2 * i));
        }
        return (channels, rate, samples);
    }

    [Test]
    public async Task Record_true_records_the_call_from_the_answer_to_the_end_in_stereo()
    {
        var (calls, changes) = Start();
        var placed = calls.Place(new CallRequest { To = MagicNumbers.Answers, Message = "Disk full on db-01.", Record = true });
        var ended = await changes.FinalAsync(placed.CallId);

        Assert.That(ended.Reason, Is.EqualTo("announce_complete"));
        var recording = ended.Results.Recordings.Single();
        Assert.That((recording.Part, recording.Status, recording.Stereo, recording.Detail), Is.EqualTo((1, RecordingStatuses.Recorded, true, (string?)null)));
        Assert.That(recording.File, Does.StartWith(placed.CallId + "-1-").And.EndWith(".wav"));
        Assert.That(recording.StoppedAt, Is.Not.Null.And.GreaterThanOrEqualTo(recording.StartedAt));
        var (channels, rate, samples) = ReadWav(Path.Combine(_directory, recording.File!));
        Assert.That((channels, rate), Is.EqualTo((2, 8000)), "the callee on the left, the call's audio on the right");
        // The message plays for its length at the simulation's speed: the file lasts about as long, in the simulation's time.
        var seconds = samples.Length / 2.0 / rate;
        Assert.That(seconds, Is.GreaterThan(0.5), "as long as the call lasted");
        Assert.That(samples.Where((_, i) => i % 2 == 0).Max(s => Math.Abs((int)s)), Is.GreaterThan(1000), "a tone on the left");
    }

    [Test]
    public async Task A_script_records_between_its_start_and_stop_mixed_and_each_start_is_a_new_part()
    {
        var (calls, changes) = Start();
        var placed = calls.Place(new CallRequest
        {
            To = MagicNumbers.Answers,
            Script = Script("""
                [{"verb":"record","action":"start","mixType":"mixed"},{"verb":"say","text":"Part one."},{"verb":"record","action":"stop"},
                 {"verb":"say","text":"Not recorded."},{"verb":"record","action":"start"},{"verb":"pause","length":1}]
                """),
        });
        var ended = await changes.FinalAsync(placed.CallId);

        Assert.That(ended.Results.Recordings.Select(r => (r.Part, r.Stereo, r.Status)), Is.EqualTo(new[]
        {
            (1, false, RecordingStatuses.Recorded), (2, true, RecordingStatuses.Recorded),
        }));
        Assert.That(ReadWav(Path.Combine(_directory, ended.Results.Recordings[0].File!)).Channels, Is.EqualTo(1), "mixed into one channel");
        Assert.That(ReadWav(Path.Combine(_directory, ended.Results.Recordings[1].File!)).Channels, Is.EqualTo(2));
        Assert.That(Directory.GetFiles(_directory, "*.wav"), Has.Length.EqualTo(2));
    }

    [Test]
    public void Asking_to_record_where_recording_is_not_configured_is_refused_with_the_field()
    {
        var (calls, _) = Start(recordingConfigured: false);
        var refused = Assert.Throws<CallRequestException>(() => calls.Place(new CallRequest { To = MagicNumbers.Answers, Message = "x", Record = true }))!;
        Assert.That(refused.Field, Is.EqualTo("record"));
        refused = Assert.Throws<CallRequestException>(() => calls.Place(new CallRequest
        {
            To = MagicNumbers.Answers,
            Script = Script("""[{"verb":"say","text":"Hello."},{"verb":"record","action":"start"}]"""),
        }))!;
        Assert.That(refused.Field, Is.EqualTo("verbs[1].record"));
    }

    [Test]
    public async Task A_hooks_record_verb_where_recording_is_not_configured_is_reported_and_the_call_goes_on()
    {
        var hook = new FakeHook();
        _owned.Add(hook);
        hook.Answer("/next", """[{"verb":"record","action":"start"},{"verb":"say","text":"Still here."}]""");
        var calls = new CallManager(new CallOptions(), new SimulatedBackend(Simulations.Fast), new FliteSynthesizer(), TestLog.Factory,
            hooks: new HttpCallHooks(new HttpClient(), "s"u8.ToArray()));
        _owned.Add(calls);
        var changes = new ChangeLog(calls);
        var placed = calls.Place(new CallRequest { To = MagicNumbers.Answers, Script = Script($$"""[{"verb":"redirect","actionHook":"{{hook.Url("/next")}}"}]""") });
        var ended = await changes.FinalAsync(placed.CallId);

        Assert.That(ended.Reason, Is.EqualTo("announce_complete"), "the call went on");
        var recording = ended.Results.Recordings.Single();
        Assert.That((recording.Status, recording.File, recording.Detail), Is.EqualTo((RecordingStatuses.Failed, (string?)null, "recording is not configured (CallOptions.Recording)")));
    }

    [Test]
    public void Recording_settings_are_checked_and_file_names_cannot_leave_the_directory()
    {
        Assert.Throws<ArgumentException>(() => new CallRecordingOptions { Directory = "/r", FreeSwitchTarget = "relative/path" }.Validate());
        Assert.Throws<ArgumentException>(() => new CallRecordingOptions { Directory = "/r", FreeSwitchTarget = "http://vb:3000/fs/recordings" }.Validate(), "no trailing slash");
        Assert.Throws<ArgumentException>(() => new CallRecordingOptions { Directory = "/r", MaxDuration = TimeSpan.FromSeconds(5) }.Validate());
        var upload = new CallRecordingOptions { Directory = "/r", FreeSwitchTarget = "http://vb:3000/fs/recordings/" };
        upload.Validate();
        var file = upload.NewFile("../../etc/passwd call", 3);
        Assert.That(file.Name, Does.Match(@"^etcpasswdcall-3-[0-9a-f]{24}\.wav$"));
        Assert.That(file.FreeSwitchPath, Is.EqualTo("http://vb:3000/fs/recordings/" + file.Name));
        Assert.That(file.LocalPath, Is.EqualTo("/r/" + file.Name));
        Assert.That(new CallRecordingOptions { Directory = "/r", FreeSwitchTarget = "/mnt/shared" }.NewFile("c", 1).FreeSwitchPath, Does.StartWith("/mnt/shared/c-1-"));
        Assert.That(CallRecordingOptions.IsFileName(file.Name), Is.True);
        Assert.That(CallRecordingOptions.IsFileName("../" + file.Name), Is.False);
    }
}
