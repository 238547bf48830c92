using System.Text;

namespace Voice.Control.Tests.Support;

/// <summary>
/// Replays a captured drachtio exchange through a <see cref="FakeDrachtioPeer"/>: server frames go out byte for
/// byte as captured, except that the ids of the app's requests are replaced by the ids our client used; each
/// frame the client sends is checked against the frame drachtio-srf sent at that point.
/// </summary>
public sealed class CaptureReplay(FakeDrachtioPeer peer, IReadOnlyList<CapturedFrame> frames)
{
    // Headers our client may add that drachtio-srf left to drachtio-server.
    private static readonly HashSet<string> AllowedExtraHeaders = new(StringComparer.OrdinalIgnoreCase) { "Content-Type" };

    private readonly Dictionary<string, string> _ids = new(StringComparer.Ordinal);

    public int Position { get; private set; }

    /// <summary>The connection the exchange is replayed on, for frames a test writes or reads by hand.</summary>
    public FakeDrachtioPeer Peer => peer;

    public IReadOnlyList<CapturedFrame> Frames => frames;

    public CapturedFrame Next => frames[Position];

    public bool AtEnd => Position >= frames.Count;

    /// <summary>Replays the next <paramref name="count"/> frames, in capture order.</summary>
    public async Task PlayAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            if (Next.From == Side.App)
            {
                await ExpectClientAsync();
            }
            else
            {
                await SendServerAsync();
            }
        }
    }

    /// <summary>Replays up to (not including) the next frame for which <paramref name="stop"/> holds.</summary>
    public async Task PlayUntilAsync(Func<CapturedFrame, bool> stop)
    {
        while (!AtEnd && !stop(Next))
        {
            await PlayAsync(1);
        }
    }

    public Task PlayToEndAsync() => PlayUntilAsync(_ => false);

    /// <summary>Reads the client's next frame and checks it against the captured app frame.</summary>
    public Task<ClientFrame> ExpectClientAsync() => ExpectClientAsync(AssertSameRequest);

    /// <summary>Reads the client's next frame in place of the captured one and checks it with <paramref name="check"/>.</summary>
    public async Task<ClientFrame> ExpectClientAsync(Action<CapturedFrame, ClientFrame> check)
    {
        var captured = Next;
        Assert.That(captured.From, Is.EqualTo(Side.App), $"frame {Position} of the capture is a server frame");
        var actual = await peer.ReceiveAsync();
        check(captured, actual);
        _ids[captured.HeaderFields[0]] = actual.Id;
        Position++;
        return actual;
    }

    /// <summary>Sends the next captured server frame.</summary>
    public Task SendServerAsync()
    {
        var captured = Next;
        Assert.That(captured.From, Is.EqualTo(Side.Server), $"frame {Position} of the capture is an app frame");
        Position++;
        return peer.SendAsync(Substitute(captured.Message));
    }

    /// <summary>Replaces <paramref name="captured"/> with <paramref name="ours"/> in every server frame sent from now on (a second call replayed from the same capture gets Call-IDs of its own).</summary>
    public void Map(string captured, string ours) => _ids[captured] = ours;

    /// <summary>Passes over captured frames our client must not produce (and the server's replies to them).</summary>
    public void Skip(int count) => Position += count;

    /// <summary>The captured message with our ids in place of drachtio-srf's; the length prefix is recomputed on send.</summary>
    public string Substitute(string message)
    {
        var sb = new StringBuilder(message);
        foreach (var (captured, actual) in _ids)
        {
            sb.Replace(captured, actual);
        }
        return sb.ToString();
    }

    public static void AssertSameRequest(CapturedFrame captured, ClientFrame actual)
    {
        var expectedFields = captured.HeaderFields;
        Assert.That(actual.Fields.Skip(1), Is.EqualTo(expectedFields.Skip(1)), $"header line of {actual} (captured: {captured.Message.Split("\r\n")[0]})");
        var expectedHasSip = captured.Message.Contains("\r\n", StringComparison.Ordinal);
        Assert.That(actual.HasSip, Is.EqualTo(expectedHasSip));
        if (!expectedHasSip)
        {
            return;
        }

        var expected = captured.Sip;
        var sip = actual.Sip;
        Assert.That(sip.ToString(), Is.EqualTo(expected.ToString()), "start line");
        foreach (var header in expected.Headers)
        {
            Assert.That(sip.GetHeader(header.Name), Is.EqualTo(header.Value), $"header {header.Name} of {actual}");
        }
        foreach (var header in sip.Headers)
        {
            if (expected.GetHeader(header.Name) is null)
            {
                Assert.That(AllowedExtraHeaders, Does.Contain(header.Name), $"unexpected header {header.Name} in {actual}");
            }
        }
        Assert.That(sip.Body, Is.EqualTo(expected.Body), "body");
    }
}
