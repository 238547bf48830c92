using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Voice.TestPhone;

/// <summary>
/// The phone's media: one UDP socket that receives the call's RTP and judges it packet by packet — is it G.711 a
/// phone can decode (payload type 0 or 8, 160 bytes per 20 ms; SRTP adds a 4–16 byte tag), and does it carry speech
/// (loud, and crossing zero far less often than noise does) — and, like a real phone, sends 20 ms of silence back
/// every 20 ms once it knows where to.
/// </summary>
public sealed class RtpEndpoint : IAsyncDisposable
{
    /// <summary>A packet this loud (RMS of its decoded samples) counts as heard; FreeSWITCH's digital silence is 0.</summary>
    public const double AudibleRms = 300;

    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private readonly Task _receiving;
    private Task _sending = Task.CompletedTask;
    private readonly System.Collections.Concurrent.ConcurrentQueue<char> _keys = new();
    private readonly List<char> _keysHeard = [];
    private uint? _lastEvent;
    private long _firstPacket;
    private long _firstAudible;
    private int _packets;
    private int _decrypted;
    private int _decodable;
    private int _audible;
    private double _zeroCrossings;
    private double _maxRms;
    private readonly SortedSet<int> _sizes = [];
    private readonly SortedSet<int> _types = [];

    public RtpEndpoint(IPAddress address)
    {
        _socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        Bind(_socket, address);
        Port = ((IPEndPoint)_socket.LocalEndPoint!).Port;
        _receiving = ReceiveAsync();
    }

    public int Port { get; }

    /// <summary>The keys to decrypt with when the call was offered SRTP (the offer's key is the sender's).</summary>
    public Srtp? Srtp { get; set; }

    /// <summary>
    /// An even port from 10000–16382: the kernel's own picks (32768–60999) overlap the RTP ranges FreeSWITCH uses
    /// (16384–32768 by default, 40000–40999 in the lab), and a phone on the same host holding one of its ports makes
    /// FreeSWITCH fail that channel with "RTP Bind Error".
    /// </summary>
    private static void Bind(Socket socket, IPAddress address)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                socket.Bind(new IPEndPoint(address, 10000 + (2 * Random.Shared.Next(3192))));
                return;
            }
            catch (SocketException) when (attempt < 100)
            {
            }
        }
    }

    /// <summary>The keys the far end sent as RFC 4733 events, in order.</summary>
    public string KeysHeard
    {
        get
        {
            lock (_lock)
            {
                return new string([.. _keysHeard]);
            }
        }
    }

    /// <summary>What was heard so far.</summary>
    public RtpReport Report()
    {
        lock (_lock)
        {
            return new RtpReport(_packets, _decodable, _audible, [.. _sizes], [.. _types], _maxRms,
                _audible == 0 ? 0 : _zeroCrossings / _audible,
                _firstPacket == 0 ? null : _firstPacket, _firstAudible == 0 ? null : _firstAudible) { Decrypted = _decrypted };
        }
    }

    /// <summary>
    /// Completes once <paramref name="audiblePackets"/> packets of speech (20 ms each) have come; throws
    /// <see cref="TimeoutException"/>, with what came, when that takes longer than <paramref name="within"/>.
    /// </summary>
    public async Task HeardAsync(int audiblePackets, TimeSpan within)
    {
        var deadline = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(within.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        while (Report().Audible < audiblePackets)
        {
            if (System.Diagnostics.Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"fewer than {audiblePackets} packets of speech came in {within.TotalSeconds:0.#} s: {Report()}");
            }
            await Task.Delay(20);
        }
    }

    /// <summary>The time from <paramref name="answeredAt"/> (a <see cref="System.Diagnostics.Stopwatch"/> timestamp) to the first packet carrying speech; null when none came.</summary>
    public TimeSpan? SpeechSince(long? answeredAt) =>
        answeredAt is { } answered && Report().FirstAudible is { } heard ? System.Diagnostics.Stopwatch.GetElapsedTime(answered, heard) : null;

    /// <summary>
    /// Starts sending 20 ms of silence every 20 ms to <paramref name="remote"/> (what phones do; FreeSWITCH learns the path
    /// from it); keys pressed go out in the same stream as RFC 4733 events of <paramref name="eventType"/>.
    /// </summary>
    public void SendSilenceTo(IPEndPoint remote, int payloadType, int? eventType = null, int? toneHz = null)
    {
        _sending = SendAsync(remote, payloadType, eventType, toneHz, _stop.Token);
    }

    /// <summary>Presses a key: 100 ms of telephone-event packets, then three end packets, as phones send them.</summary>
    public void PressKey(char key) => _keys.Enqueue(key);

    private async Task SendAsync(IPEndPoint remote, int payloadType, int? eventType, int? toneHz, CancellationToken ct)
    {
        var packet = new byte[12 + 160];
        packet[0] = 0x80;
        packet[1] = (byte)payloadType;
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(8), (uint)Random.Shared.Next());
        packet.AsSpan(12).Fill(payloadType == 8 ? (byte)0xD5 : (byte)0xFF);
        ushort sequence = (ushort)Random.Shared.Next();
        uint timestamp = (uint)Random.Shared.Next();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                if (eventType is { } events && _keys.TryDequeue(out var key))
                {
                    // One event: the same timestamp throughout, marker on the first packet, the duration growing, end bit on the last three.
                    var started = timestamp += 160;
                    var code = key switch { '*' => 10, '#' => 11, _ => key - '0' };
                    for (var i = 1; i <= 8; i++)
                    {
                        var tone = new byte[16];
                        tone[0] = 0x80;
                        tone[1] = (byte)(events | (i == 1 ? 0x80 : 0));
                        BinaryPrimitives.WriteUInt16BigEndian(tone.AsSpan(2), sequence++);
                        BinaryPrimitives.WriteUInt32BigEndian(tone.AsSpan(4), started);
                        packet.AsSpan(8, 4).CopyTo(tone.AsSpan(8));
                        tone[12] = (byte)code;
                        tone[13] = (byte)((i > 5 ? 0x80 : 0) | 10);
                        BinaryPrimitives.WriteUInt16BigEndian(tone.AsSpan(14), (ushort)(Math.Min(i, 5) * 160));
                        await _socket.SendToAsync(tone, remote, ct).ConfigureAwait(false);
                        if (i < 8)
                        {
                            await timer.WaitForNextTickAsync(ct).ConfigureAwait(false);
                        }
                    }
                    timestamp = started + (5 * 160);
                    continue;
                }
                BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), sequence++);
                BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), timestamp += 160);
                if (toneHz is { } hz && payloadType == 0)
                {
                    for (var i = 0; i < 160; i++)
                    {
                        packet[12 + i] = G711.EncodeMuLaw((short)(Math.Sin(2 * Math.PI * hz * (timestamp + i) / 8000.0) * 8000));
                    }
                }
                await _socket.SendToAsync(packet, remote, ct).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[2048];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            int length;
            try
            {
                var result = await _socket.ReceiveFromAsync(buffer, from, _stop.Token).ConfigureAwait(false);
                length = result.ReceivedBytes;
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            var now = Stopwatch.GetTimestamp();
            if (length < 12 || (buffer[0] >> 6) != 2)
            {
                continue;
            }
            var headerLength = 12 + (4 * (buffer[0] & 0x0F));
            if ((buffer[0] & 0x10) != 0 && length >= headerLength + 4)
            {
                headerLength += 4 + (4 * BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(headerLength + 2)));
            }
            var payloadType = buffer[1] & 0x7F;
            if (Srtp is { } srtp)
            {
                // What a phone does with SRTP: check the tag, decrypt, then decode; a packet that fails is noise to it.
                var plain = srtp.Decrypt(buffer.AsSpan(0, length), headerLength);
                Observe(now, payloadType, plain ?? buffer.AsSpan(Math.Min(headerLength, length), Math.Max(0, length - headerLength)), decrypted: plain is not null);
                continue;
            }
            var payload = buffer.AsSpan(Math.Min(headerLength, length), Math.Max(0, length - headerLength));
            if (payloadType is >= 96 and <= 127 && payload.Length == 4 && (payload[1] & 0x80) != 0)
            {
                // A telephone-event's end (sent three times): one key per event timestamp.
                var started = BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(4));
                lock (_lock)
                {
                    if (_lastEvent != started)
                    {
                        _lastEvent = started;
                        _keysHeard.Add(payload[0] switch { 10 => '*', 11 => '#', var d and < 10 => (char)('0' + d), var other => (char)('A' + other - 12) });
                    }
                }
            }
            Observe(now, payloadType, payload, decrypted: false);
        }
    }

    private void Observe(long now, int payloadType, ReadOnlySpan<byte> payload, bool decrypted)
    {
        var g711 = payloadType is 0 or 8;
        var decodable = g711 && payload.Length % 80 == 0;
        var (rms, zcr) = g711 ? G711.Measure(payload, payloadType) : (0, 0);
        lock (_lock)
        {
            _packets++;
            _decrypted += decrypted ? 1 : 0;
            _sizes.Add(payload.Length);
            _types.Add(payloadType);
            if (_firstPacket == 0)
            {
                _firstPacket = now;
            }
            if (!decodable)
            {
                return;
            }
            _decodable++;
            _maxRms = Math.Max(_maxRms, rms);
            if (rms >= AudibleRms)
            {
                _audible++;
                _zeroCrossings += zcr;
                if (_firstAudible == 0)
                {
                    _firstAudible = now;
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await _receiving.ConfigureAwait(false);
        await _sending.ConfigureAwait(false);
        Srtp?.Dispose();
    }
}

/// <summary>
/// What a phone heard. <see cref="FirstPacket"/> and <see cref="FirstAudible"/> are <see cref="Stopwatch"/> timestamps.
/// Speech: audible packets whose mean zero-crossing rate is well below noise's one half (decoded SRTP is noise).
/// The first quarter second of flite speech, heavy in fricatives, measured 0.31; noise over as many samples stays within 0.5 ± 0.03.
/// </summary>
public sealed record RtpReport(
    int Packets, int Decodable, int Audible, IReadOnlyList<int> PayloadSizes, IReadOnlyList<int> PayloadTypes, double MaxRms,
    double MeanZeroCrossingRate, long? FirstPacket, long? FirstAudible)
{
    /// <summary>SRTP packets whose tag checked out and were decrypted (payload sizes are then those decrypted).</summary>
    public int Decrypted { get; init; }

    /// <summary>Every packet was G.711 (plain, or SRTP decrypted) and some of it carried speech.</summary>
    public bool HeardSpeech => Packets > 0 && Decodable == Packets && Audible >= 5 && MeanZeroCrossingRate < 0.4;

    public override string ToString() =>
        $"{Packets} packets ({(Decrypted > 0 ? $"{Decrypted} SRTP decrypted, " : "")}{Decodable} decodable G.711, {Audible} audible), payload sizes [{string.Join(", ", PayloadSizes)}], " +
        $"types [{string.Join(", ", PayloadTypes)}], max RMS {MaxRms:0}, zero-crossing rate {MeanZeroCrossingRate:0.00}";
}
