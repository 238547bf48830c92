using System.Buffers;
using System.Text;
using Voice.Control.FreeSwitch;
using Voice.Control.Tests.Support;

namespace Voice.Control.Tests.FreeSwitch;

public class EslFrameTests
{
    public static IEnumerable<TestCaseData> Streams() =>
        Captures.AllEslStreams().Where(s => s.Name.Contains(".fs.bin", StringComparison.Ordinal))
            .Select(s => new TestCaseData(s.Bytes).SetArgDisplayNames(s.Name));

    public static IEnumerable<TestCaseData> FlowConnections() =>
        from scenario in new[] { "mrf-endpoint-play", "mrf-play-collect", "esl-fs-restart" }
        from connection in Captures.MessagesFileBlocks(Path.Combine(Captures.FlowDir(scenario), $"{scenario}.messages.txt"))
            .Select(b => b.Connection).Where(c => c.StartsWith("esl", StringComparison.Ordinal)).Distinct()
        select new TestCaseData(scenario, connection).SetArgDisplayNames($"{scenario} {connection}");

    [TestCaseSource(nameof(Streams))]
    public void Every_FreeSWITCH_stream_splits_into_whole_messages_with_nothing_left(byte[] stream)
    {
        var messages = ReadAll(stream, out var consumed);

        Assert.That(consumed, Is.EqualTo(stream.Length));
        Assert.That(messages, Is.Not.Empty);
        Assert.That(messages.Select(m => m.ContentType), Is.All.AnyOf(
            EslContentTypes.AuthRequest, EslContentTypes.CommandReply, EslContentTypes.ApiResponse,
            EslContentTypes.EventPlain, EslContentTypes.EventJson, EslContentTypes.DisconnectNotice));
        foreach (var message in messages.Where(m => m.ContentType is EslContentTypes.EventPlain or EslContentTypes.EventJson))
        {
            Assert.That(EslEvent.Parse(message).Name, Is.Not.Empty, $"an event without Event-Name: {message}");
        }
    }

    [TestCaseSource(nameof(FlowConnections))]
    public void Every_flow_connection_parses_into_the_messages_of_its_messages_file(string scenario, string connection)
    {
        // messages.txt lists each message of the connection with its exact bytes: an account independent of the parser.
        var listed = Captures.EslFlow(scenario, connection).Where(m => m.From == Side.Server).Select(m => m.Bytes).ToList();
        var stream = listed.SelectMany(b => b).ToArray();

        var parsed = new List<int>();
        var buffer = new ReadOnlySequence<byte>(stream);
        while (true)
        {
            var before = buffer.Length;
            if (!EslFrame.TryRead(ref buffer, EslLimits.Default, out _))
            {
                break;
            }
            parsed.Add((int)(before - buffer.Length));
        }

        Assert.That(buffer.Length, Is.Zero);
        Assert.That(parsed, Is.EqualTo(listed.Select(b => b.Length)), "message boundaries");
    }

    [TestCaseSource(nameof(Streams))]
    public void Every_prefix_of_a_message_needs_more_and_consumes_nothing(byte[] stream)
    {
        var first = ReadAll(stream, out _)[0];
        var firstLength = Length(stream);
        for (var n = 0; n < firstLength; n++)
        {
            var prefix = new ReadOnlySequence<byte>(stream, 0, n);
            var copy = prefix;
            Assert.That(EslFrame.TryRead(ref copy, EslLimits.Default, out _), Is.False, $"prefix of {n} bytes");
            Assert.That(copy.Length, Is.EqualTo(n), "nothing consumed");
        }
        Assert.That(first.ContentType, Is.Not.Null);
    }

    [TestCaseSource(nameof(Streams))]
    public void One_byte_segments_give_the_same_messages(byte[] stream)
    {
        var whole = ReadAll(stream, out _).Select(Describe).ToList();
        var buffer = Segments.Of(stream, 1);
        var pieces = new List<string>();
        while (EslFrame.TryRead(ref buffer, EslLimits.Default, out var message))
        {
            pieces.Add(Describe(message));
        }
        Assert.That(buffer.Length, Is.Zero);
        Assert.That(pieces, Is.EqualTo(whole));
    }

    [Test]
    public void Inbound_capture_replies_events_and_background_job_decode()
    {
        var messages = ReadAll(File.ReadAllBytes(Path.Combine(Captures.FreeSwitchDir, "esl-inbound.fs.bin")), out _);

        Assert.That(messages[0].ContentType, Is.EqualTo(EslContentTypes.AuthRequest));
        Assert.That(messages[1].ReplyText, Is.EqualTo("+OK accepted"));
        Assert.That(messages[2].BodyText, Does.StartWith("UP 0 years"));
        Assert.That(messages[2].BodyText, Does.Contain("FreeSWITCH (Version 1.11.1-release"));
        var error = messages[4];
        Assert.That(error.ContentType, Is.EqualTo(EslContentTypes.ApiResponse));
        Assert.That(error.IsError, Is.True);
        Assert.That(error.Summary, Is.EqualTo("-ERR no_such_command Command not found!"));
        Assert.That(messages[6].ReplyText, Is.EqualTo("+OK Job-UUID: 9ad1fce3-4e5c-4d9e-99d7-9d7d1e19d616"));
        Assert.That(messages[6]["Job-UUID"], Is.EqualTo("9ad1fce3-4e5c-4d9e-99d7-9d7d1e19d616"));

        var events = messages.Where(m => m.ContentType == EslContentTypes.EventPlain).Select(EslEvent.Parse).ToList();
        // The capture's closing note lists the events in the order they came, with Unique-ID and Channel-Name.
        Assert.That(events.Select(e => (e.Name, e.UniqueId, e["Channel-Name"])), Is.EqualTo(new (string, string?, string?)[]
        {
            ("CHANNEL_CREATE", "06a83442-bc7a-4092-815e-61d5ed7dfd1c", "loopback/9999-a"),
            ("CHANNEL_CREATE", "7d6897cc-45b5-4561-895e-2536de50992f", "loopback/9999-b"),
            ("CHANNEL_ANSWER", "06a83442-bc7a-4092-815e-61d5ed7dfd1c", "loopback/9999-a"),
            ("CHANNEL_ANSWER", "7d6897cc-45b5-4561-895e-2536de50992f", "loopback/9999-b"),
            ("BACKGROUND_JOB", null, null),
            ("CHANNEL_HANGUP_COMPLETE", "7d6897cc-45b5-4561-895e-2536de50992f", "loopback/9999-b"),
            ("CHANNEL_HANGUP_COMPLETE", "06a83442-bc7a-4092-815e-61d5ed7dfd1c", "loopback/9999-a"),
        }));
        var job = events[4];
        Assert.That(job["Job-UUID"], Is.EqualTo("9ad1fce3-4e5c-4d9e-99d7-9d7d1e19d616"));
        Assert.That(job["Job-Command-Arg"], Is.EqualTo(
            "{origination_uuid=06a83442-bc7a-4092-815e-61d5ed7dfd1c,origination_caller_id_number=esl-test}loopback/9999/mrf &park"), "URL-decoded");
        Assert.That(job.Body, Is.EqualTo("+OK 06a83442-bc7a-4092-815e-61d5ed7dfd1c\n"), "the inner Content-Length body");
        Assert.That(events[0]["Event-Date-Local"], Is.EqualTo("2026-11-22 03:20:58"));
        Assert.That(events[0]["FreeSWITCH-IPv6"], Is.EqualTo("fd00::2"));

        var goodbye = messages[^1];
        Assert.That(goodbye.ContentType, Is.EqualTo(EslContentTypes.DisconnectNotice));
        Assert.That(goodbye.BodyText, Does.StartWith("Disconnected, goodbye."));
    }

    [Test]
    public void The_outbound_connect_reply_is_the_channel_data_without_Content_Length()
    {
        var messages = ReadAll(File.ReadAllBytes(Path.Combine(Captures.FreeSwitchDir, "esl-outbound.fs.bin")), out _);
        var connect = messages[0];

        Assert.That(connect.ContentType, Is.EqualTo(EslContentTypes.CommandReply));
        Assert.That(connect["Content-Length"], Is.Null);
        Assert.That(connect.Body.IsEmpty, Is.True);
        var channel = EslEvent.Parse(connect);
        Assert.That(channel.Name, Is.EqualTo("CHANNEL_DATA"));
        Assert.That(channel["Reply-Text"], Is.EqualTo("+OK\n"), "URL-decoded %2BOK%0A");
        Assert.That(channel["Socket-Mode"], Is.EqualTo("async"));
        Assert.That(channel["Control"], Is.EqualTo("full"));
        Assert.That(channel.Variable("sip_full_from"), Is.EqualTo("sipp <sip:sipp@127.0.0.1:5072>;tag=27586SIPpTag001"));
        Assert.That(channel.Variable("current_application"), Is.EqualTo("socket"));
        Assert.That(channel.UniqueId, Is.Not.Null.And.Not.Empty);

        var complete = messages.Where(m => m.ContentType == EslContentTypes.EventPlain).Select(EslEvent.Parse)
            .Where(e => e.Name == "CHANNEL_EXECUTE_COMPLETE").ToList();
        Assert.That(complete.Select(e => e["Application"]), Is.EqualTo(new[] { "playback", "socket" }),
            "the playback, then the stale completion of the socket app at hangup");
        Assert.That(complete[0]["Application-UUID"], Is.EqualTo("9158f266-4f23-4baa-8faa-c1a4f0f48af7"), "our Event-UUID");
        Assert.That(complete[0]["Application-Data"], Is.EqualTo("tone_stream://%(1000,0,440)"));

        var notice = messages[^1];
        Assert.That(notice.ContentType, Is.EqualTo(EslContentTypes.DisconnectNotice));
        Assert.That(notice["Content-Disposition"], Is.EqualTo("disconnect"));
        Assert.That(notice["Controlled-Session-UUID"], Is.EqualTo(channel.UniqueId));
    }

    [Test]
    public void Linger_gives_a_linger_notice_before_the_disconnect_notice()
    {
        var messages = ReadAll(File.ReadAllBytes(Path.Combine(Captures.FreeSwitchDir, "esl-outbound-linger.fs.bin")), out _);
        var notices = messages.Where(m => m.ContentType == EslContentTypes.DisconnectNotice).ToList();

        Assert.That(notices.Select(n => n["Content-Disposition"]), Is.EqualTo(new[] { "linger", "disconnect" }));
        Assert.That(notices[0]["Linger-Time"], Is.EqualTo("3"));
        Assert.That(notices[0].Body.IsEmpty, Is.True, "Content-Length: 0");
    }

    [Test]
    public void Json_events_decode_with_the_same_headers_as_the_channel()
    {
        var messages = ReadAll(File.ReadAllBytes(Path.Combine(Captures.FreeSwitchDir, "esl-outbound-fsmrf-json.fs.bin")), out _);
        var channel = EslEvent.Parse(messages[0]);
        var events = messages.Where(m => m.ContentType == EslContentTypes.EventJson).Select(EslEvent.Parse).ToList();

        Assert.That(events.Select(e => e.Name), Is.EqualTo(new[]
        {
            "CHANNEL_EXECUTE", "PLAYBACK_START", "PLAYBACK_STOP", "CHANNEL_EXECUTE_COMPLETE",
            "CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_CALLSTATE", "CHANNEL_HANGUP_COMPLETE",
        }));
        Assert.That(events.Select(e => e.UniqueId), Is.All.EqualTo(channel.UniqueId));
        Assert.That(events[3]["Application-UUID"], Is.EqualTo("98f5fc3a-52a1-4c16-9232-37bd5e9d5ae3"));
        Assert.That(events[0]["Event-Date-Local"], Is.EqualTo("2026-11-22 03:21:12"), "JSON values are not URL-encoded");
        Assert.That(events[4]["Hangup-Cause"], Is.EqualTo("NORMAL_CLEARING"));
        var dump = messages.Single(m => m.ContentType == EslContentTypes.ApiResponse);
        Assert.That(dump.BodyText, Does.StartWith("{\"Event-Name\":\"CHANNEL_DATA\""));
    }

    [Test]
    public void A_json_event_finds_its_headers_by_name_whether_or_not_the_names_are_escaped()
    {
        // Names of the same length as the ones calls route by must not be taken for them; an escaped name is still the name.
        const string json = """
            {"Event-Name":"CHANNEL_EXECUTE_COMPLETE","Application-UUIX":"not-it","Application\u002dUUID":"the-id",
             "Hangup-Causes":"no","variable_read_result":"success","Unique-ID":"4f1c","_body":"done"}
            """;
        var e = EslEvent.Parse(new EslMessage([KeyValuePair.Create("Content-Type", EslContentTypes.EventJson)], Encoding.UTF8.GetBytes(json)));

        Assert.That(e.Name, Is.EqualTo("CHANNEL_EXECUTE_COMPLETE"));
        Assert.That(e["Application-UUID"], Is.EqualTo("the-id"));
        Assert.That(e["Hangup-Cause"], Is.Null);
        Assert.That(e.Variable("read_result"), Is.EqualTo("success"));
        Assert.That(e.UniqueId, Is.EqualTo("4f1c"));
        Assert.That(e.Body, Is.EqualTo("done"));
        Assert.That(e["Application-UUIX"], Is.EqualTo("not-it"), "the other headers still read from the event's bytes");
    }

    [Test]
    public void A_json_event_reads_its_other_headers_from_its_own_bytes_not_the_buffer_it_came_in()
    {
        var stream = File.ReadAllBytes(Path.Combine(Captures.FreeSwitchDir, "esl-outbound-fsmrf-json.fs.bin"));
        var framed = ReadAll(stream, out _).First(m => m.ContentType == EslContentTypes.EventJson);
        var callerBody = framed.Body.ToArray();
        var given = new EslMessage([KeyValuePair.Create("Content-Type", EslContentTypes.EventJson)], callerBody);
        var fromFraming = EslEvent.Parse(framed);
        var fromCaller = EslEvent.Parse(given);

        // What the connection reads next lands in the same buffer; a caller may reuse its own.
        Array.Clear(stream);
        Array.Clear(callerBody);

        Assert.That(fromFraming["Event-Date-Local"], Is.EqualTo("2026-11-22 03:21:12"));
        Assert.That(fromCaller["Event-Date-Local"], Is.EqualTo("2026-11-22 03:21:12"));
        Assert.That(fromCaller.Headers["Channel-State"], Is.EqualTo(fromFraming.Headers["Channel-State"]));
    }

    [Test]
    public void The_shutdown_notice_of_a_restarting_FreeSWITCH_decodes()
    {
        var messages = ReadAll(File.ReadAllBytes(Path.Combine(Captures.FlowDir("esl-fs-restart"), "esl-fs-restart.esl-in.fs.bin")), out _);
        var heartbeat = messages.Where(m => m.ContentType == EslContentTypes.EventPlain).Select(EslEvent.Parse).Single(e => e.Name == "HEARTBEAT");

        Assert.That(messages[^1].ContentType, Is.EqualTo(EslContentTypes.DisconnectNotice));
        Assert.That(messages[^1].BodyText, Is.EqualTo("The system is being shut down.\n"));
        Assert.That(heartbeat["Session-Count"], Is.Not.Null);
        Assert.That(heartbeat["Idle-CPU"], Is.Not.Null);
    }

    [Test]
    public void A_long_header_block_reads_as_a_short_one_does()
    {
        // Channel data (the connect reply) is several KB of headers: past EslFrame.LazyHeaderBytes they stay bytes until asked for.
        var headers = new List<(string Name, string Value)> { ("Event-Name", "CHANNEL_DATA"), ("Content-Type", "api/response") };
        headers.AddRange(Enumerable.Range(0, 300).Select(i => ($"variable_pad_{i}", $"value%20{i}")));
        headers.Add(("Content-Length", "5"));
        var bytes = Encoding.UTF8.GetBytes(string.Concat(headers.Select(h => $"{h.Name}: {h.Value}\n")) + "\nhello");
        Assert.That(bytes, Has.Length.GreaterThan(4 * 2048), "long enough to be kept as bytes");

        foreach (var stream in new[] { new ReadOnlySequence<byte>(bytes), Segments.Of(bytes, 1) })
        {
            var buffer = stream;
            Assert.That(EslFrame.TryRead(ref buffer, EslLimits.Default, out var message), Is.True);
            Assert.That(buffer.Length, Is.Zero);
            Assert.That(message.Headers.Select(h => (h.Key, h.Value)), Is.EqualTo(headers), "every header, in wire order, as on the wire");
            Assert.That(message["content-type"], Is.EqualTo("api/response"), "names compare case-insensitively");
            Assert.That(message["variable_pad_299"], Is.EqualTo("value%20299"));
            Assert.That(message["X-Absent"], Is.Null);
            Assert.That(message.BodyText, Is.EqualTo("hello"));
            var channel = EslEvent.Parse(message);
            Assert.That(channel.Variable("pad_7"), Is.EqualTo("value 7"), "an event's values URL-decoded");
            Assert.That(channel.Headers, Has.Count.EqualTo(headers.Count));
        }

        var broken = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes($"Content-Type: api/response\nContent-Length: 12x\nX-Padding: {new string('x', 4096)}\n\n"));
        Assert.That(() => EslFrame.TryRead(ref broken, EslLimits.Default, out _),
            Throws.TypeOf<EslProtocolException>().With.Message.Contains("Content-Length '12x' is not a byte count"));
    }

    [Test]
    [TestCase("Content-Type: command/reply\nReply-Text\n\n", "header line 'Reply-Text' has no name before ':'")]
    [TestCase("Content-Type: api/response\nContent-Length: 12x\n\n", "Content-Length '12x' is not a byte count")]
    [TestCase(": nameless\n\n", "has no name before ':'")]
    public void Garbage_fails_with_a_message_that_names_the_message(string input, string reason)
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(input));
        var ex = Assert.Throws<EslProtocolException>(() => EslFrame.TryRead(ref buffer, EslLimits.Default, out _))!;
        Assert.That(ex.Message, Does.Contain(reason));
        Assert.That(ex.Message, Does.Contain("the message starts with '"));
    }

    [Test]
    public void Limits_are_checked_before_the_rest_is_waited_for()
    {
        var limits = new EslLimits { MaxHeaderBytes = 64, MaxBodyBytes = 100 };
        var bigBody = new ReadOnlySequence<byte>("Content-Type: api/response\nContent-Length: 101\n\n"u8.ToArray());
        Assert.That(() => EslFrame.TryRead(ref bigBody, limits, out _),
            Throws.TypeOf<EslProtocolException>().With.Message.Contains("Content-Length 101 is over the limit of 100 bytes"));

        var endless = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes("Content-Type: text/event-plain\n" + new string('x', 64)));
        Assert.That(() => EslFrame.TryRead(ref endless, limits, out _),
            Throws.TypeOf<EslProtocolException>().With.Message.Contains("no blank line ends the header block within 64 bytes"));
    }

    [Test]
    public void Commands_end_with_a_blank_line()
    {
        var writer = new ArrayBufferWriter<byte>();
        EslFrame.WriteCommand(writer, "api sofia status");
        Assert.That(Encoding.UTF8.GetString(writer.WrittenSpan), Is.EqualTo("api sofia status\n\n"));
    }

    private static string Describe(EslMessage m) =>
        string.Join("|", m.Headers.Select(h => $"{h.Key}={h.Value}")) + "#" + Convert.ToHexString(m.Body.Span);

    private static int Length(byte[] stream)
    {
        var buffer = new ReadOnlySequence<byte>(stream);
        EslFrame.TryRead(ref buffer, EslLimits.Default, out _);
        return (int)(stream.Length - buffer.Length);
    }

    private static List<EslMessage> ReadAll(byte[] stream, out long consumed)
    {
        var buffer = new ReadOnlySequence<byte>(stream);
        var messages = new List<EslMessage>();
        while (EslFrame.TryRead(ref buffer, EslLimits.Default, out var message))
        {
            messages.Add(message);
        }
        consumed = stream.Length - buffer.Length;
        return messages;
    }
}
