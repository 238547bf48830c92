using BenchmarkDotNet.Attributes;
using Voice.Control.Drachtio;

namespace Voice.Bench;

/// <summary>One complete outgoing call through the client: INVITE, 180, 200, ACK, BYE, 200 — over loopback TCP.</summary>
[MemoryDiagnoser]
public class UacCallBenchmarks
{
    public const string Offer = "v=0\r\no=- 1234567890 1 IN IP4 127.0.0.1\r\ns=drachtio-lab\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n";
    private static readonly UacOptions Options = new() { LocalSdp = Offer, CallerId = "+15559876543", RingTimeout = TimeSpan.FromSeconds(30) };
    private LeanDrachtioServer _server = null!;
    private DrachtioClient _client = null!;

    [GlobalSetup]
    public void Setup() => (_server, _client) = StartAsync().GetAwaiter().GetResult();

    public static async Task<(LeanDrachtioServer, DrachtioClient)> StartAsync()
    {
        var server = new LeanDrachtioServer();
        var client = new DrachtioClient(new DrachtioClientOptions { Host = "127.0.0.1", Port = server.Port, Secret = "cymru" });
        await client.ConnectAsync();
        return (server, client);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark]
    public Task AnsweredCall() => CallAsync(_client);

    public static async Task CallAsync(DrachtioClient client)
    {
        var dialog = await client.CreateUacAsync("sip:15551234567@127.0.0.1:5085", Options);
        await dialog.DestroyAsync();
    }
}
