using System.Buffers;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Voice.Control.Net;

namespace Voice.Control.FreeSwitch;

/// <summary>
/// One Event Socket connection, inbound (we dialled 8021) or outbound (FreeSWITCH dialled us): a single read
/// loop that frames messages, a single writer, and the in-order matching of replies. FreeSWITCH's command/reply
/// and api/response carry no correlation id, so each is the answer to the oldest command still owed one; a
/// command whose caller stopped waiting keeps its place, and its late reply is discarded, never handed to the
/// next command. Everything else (events, notices, auth/request) goes to the owner's handler, which must not block.
/// </summary>
internal sealed class EslConnection : FramedConnection
{
    private readonly ILogger _logger;
    private EslLimits _limits;
    private readonly Action<EslMessage> _onMessage;
    private readonly Queue<PendingReply> _replies = new();

    private EslConnection(Stream stream, string name, EslLimits limits, ILogger logger, Action<EslMessage> onMessage, bool bufferOnlyWhenReadable)
        : base(stream, readBufferSize: 64 * 1024, bufferOnlyWhenReadable)
    {
        Name = name;
        _limits = limits;
        _logger = logger;
        _onMessage = onMessage;
    }

    /// <summary>What one message may hold; changed when a connection moves from its handshake to its work.</summary>
    public EslLimits Limits
    {
        get => Volatile.Read(ref _limits);
        set => Volatile.Write(ref _limits, value);
    }

    /// <summary>For logs: where the connection goes or comes from.</summary>
    public string Name { get; }

    /// <summary>Dials FreeSWITCH's Event Socket and starts reading; the first message will be auth/request.</summary>
    public static async Task<EslConnection> ConnectAsync(
        string host, int port, EslLimits limits, ILogger logger, Action<EslMessage> onMessage, CancellationToken ct)
    {
        var socket = await ReconnectLoop.ConnectSocketAsync(host, port, ct).ConfigureAwait(false);
        var connection = Wrap(socket, $"{host}:{port}", limits, logger, onMessage, bufferOnlyWhenReadable: false);
        connection.StartReading();
        return connection;
    }

    /// <summary>
    /// Wraps a socket FreeSWITCH opened to our outbound listener, sends <paramref name="command"/> (<c>connect</c>) and
    /// starts reading; <paramref name="reply"/> completes with the command's reply.
    /// </summary>
    /// <remarks>
    /// The reply is queued before the read loop starts. A peer that answers before it is asked (FreeSWITCH never does;
    /// anyone else who reaches the port may) is then taken as answering the command. Read first, such an answer could be
    /// dropped as unmatched, and the command waited out its whole timeout while the connection stayed open.
    /// </remarks>
    public static EslConnection Start(Socket socket, string name, EslLimits limits, ILogger logger, Action<EslMessage> onMessage, string command, out Task<EslMessage> reply)
    {
        // One connection per call, waiting for most of it: it holds a read buffer only while it has bytes to read.
        var connection = Wrap(socket, name, limits, logger, onMessage, bufferOnlyWhenReadable: true);
        // Queued before SendAsync's first wait: nobody else holds a new connection's write lock.
        reply = connection.SendAsync(command, CancellationToken.None);
        connection.StartReading();
        return connection;
    }

    private static EslConnection Wrap(Socket socket, string name, EslLimits limits, ILogger logger, Action<EslMessage> onMessage, bool bufferOnlyWhenReadable)
    {
        socket.NoDelay = true;
        return new EslConnection(new NetworkStream(socket, ownsSocket: true), name, limits, logger, onMessage, bufferOnlyWhenReadable);
    }

    /// <summary>
    /// Sends a command (its lines, without the final blank line) and completes with its command/reply or
    /// api/response. Cancelling stops the wait only; the reply, when it comes, is discarded.
    /// </summary>
    /// <exception cref="EslConnectionLostException">The connection closed before the reply came.</exception>
    public Task<EslMessage> SendAsync(string command, CancellationToken ct = default) => SendAsync(command, null, ct);

    /// <summary>Sends a command with a counted body (see <see cref="EslFrame.WriteCommand"/>).</summary>
    public async Task<EslMessage> SendAsync(string command, string? body, CancellationToken ct)
    {
        var pending = new PendingReply(command, body);
        await WriteAsync(writer => WriteQueued(writer, [pending]), ct).ConfigureAwait(false);
        try
        {
            return await pending.Reply.Task.WaitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            pending.Reply.TrySetCanceled(ct);
            throw;
        }
    }

    /// <summary>
    /// Sends several commands (no bodies) in one write, so that FreeSWITCH reads them at once, and completes with their
    /// replies in order. Faults with the first failure; cancelling stops the wait only.
    /// </summary>
    /// <exception cref="EslConnectionLostException">The connection closed before the replies came.</exception>
    public async Task<EslMessage[]> SendAllAsync(IReadOnlyList<string> commands, CancellationToken ct = default)
    {
        PendingReply[] pending = [.. commands.Select(command => new PendingReply(command, null))];
        await WriteAsync(writer => WriteQueued(writer, pending), ct).ConfigureAwait(false);
        try
        {
            return await Task.WhenAll(pending.Select(p => p.Reply.Task)).WaitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            foreach (var reply in pending)
            {
                reply.Reply.TrySetCanceled(ct);
            }
            throw;
        }
    }

    /// <summary>Queues the replies in wire order (the write lock is held until the commands are out), then writes the commands.</summary>
    private void WriteQueued(IBufferWriter<byte> writer, ReadOnlySpan<PendingReply> pending)
    {
        lock (StateLock)
        {
            if (IsClosed)
            {
                throw EslConnectionLostException.Lost(CloseReason);
            }
            foreach (var reply in pending)
            {
                _replies.Enqueue(reply);
            }
        }
        foreach (var reply in pending)
        {
            EslFrame.WriteCommand(writer, reply.Command, reply.Body);
            EslLog.CommandSent(_logger, Name, FirstLine(reply.Command));
        }
    }

    protected override string PeerName => "FreeSWITCH";

    protected override bool TryReadMessage(ref ReadOnlySequence<byte> buffer)
    {
        if (!EslFrame.TryRead(ref buffer, Limits, out var message))
        {
            return false;
        }
        Dispatch(message);
        return true;
    }

    protected override Exception ProtocolError(string message) => new EslProtocolException(message);

    protected override bool IsProtocolError(Exception error) => error is EslProtocolException;

    protected override void LogProtocolError(string message) => EslLog.ProtocolError(_logger, Name, message);

    protected override void LogReadLoopFailed(Exception error) => EslLog.ReadLoopFailed(_logger, Name, error);

    protected override Exception Lost(Exception? cause) => EslConnectionLostException.Lost(cause);

    private void Dispatch(EslMessage message)
    {
        var type = message.ContentType;
        if (type is EslContentTypes.CommandReply or EslContentTypes.ApiResponse)
        {
            PendingReply? pending;
            lock (StateLock)
            {
                _replies.TryDequeue(out pending);
            }
            if (pending is null)
            {
                EslLog.UnmatchedReply(_logger, Name, message.ToString());
            }
            else if (!pending.Reply.TrySetResult(message))
            {
                EslLog.LateReplyDiscarded(_logger, Name, FirstLine(pending.Command), message.Summary);
            }
            return;
        }
        _onMessage(message);
    }

    protected override Action<Exception> DetachPending()
    {
        PendingReply[] pending = [.. _replies];
        _replies.Clear();
        return lost =>
        {
            foreach (var request in pending)
            {
                request.Reply.TrySetException(lost);
            }
        };
    }

    private static string FirstLine(string command)
    {
        var newline = command.IndexOf('\n', StringComparison.Ordinal);
        var line = newline < 0 ? command : command[..newline];
        // Never log the password.
        return line.StartsWith("auth ", StringComparison.Ordinal) ? "auth ****" : line;
    }

    private sealed class PendingReply(string command, string? body)
    {
        public string Command { get; } = command;

        public string? Body { get; } = body;

        public TaskCompletionSource<EslMessage> Reply { get; } = new();
    }
}
