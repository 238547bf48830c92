using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Voice.Control.FreeSwitch;

/// <summary>
/// One Event Socket connection, inbound (we dialled 8021) or outbound (FreeSWITCH dialled us): a single read
/// loop that frames messages, a single writer, and the in-order matching of replies. FreeSWITCH's command/reply
/// and api/response carry no correlation id, so each is the answer to the oldest command still owed one; a
/// command whose caller stopped waiting keeps its place, and its late reply is discarded, never handed to the
/// next command. Everything else (events, notices, auth/request) goes to the owner's handler, which must not block.
/// </summary>
internal sealed class EslConnection : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ILogger _logger;
    private readonly EslLimits _limits;
    private readonly Action<EslMessage> _onMessage;
    private readonly Lock _repliesLock = new();
    private readonly Queue<PendingReply> _replies = new();
    private readonly TaskCompletionSource<Exception?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _closeReason;
    private Task? _readLoop;
    private int _disposed;

    private EslConnection(Stream stream, string name, EslLimits limits, ILogger logger, Action<EslMessage> onMessage)
    {
        _stream = stream;
        Name = name;
        _limits = limits;
        _logger = logger;
        _onMessage = onMessage;
        _reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, leaveOpen: true));
        _writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
    }

    /// <summary>For logs: where the connection goes or comes from.</summary>
    public string Name { get; }

    /// <summary>Completes when the connection is gone, with the reason (null for an orderly close).</summary>
    public Task<Exception?> Closed => _closed.Task;

    public bool IsClosed => _closed.Task.IsCompleted;

    /// <summary>Dials FreeSWITCH's Event Socket and starts reading; the first message will be auth/request.</summary>
    public static async Task<EslConnection> ConnectAsync(
        string host, int port, EslLimits limits, ILogger logger, Action<EslMessage> onMessage, CancellationToken ct)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            await socket.ConnectAsync(host, port, ct).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return Start(socket, $"{host}:{port}", limits, logger, onMessage);
    }

    /// <summary>Wraps a socket FreeSWITCH opened to our outbound listener and starts reading.</summary>
    public static EslConnection Start(Socket socket, string name, EslLimits limits, ILogger logger, Action<EslMessage> onMessage)
    {
        socket.NoDelay = true;
        var connection = new EslConnection(new NetworkStream(socket, ownsSocket: true), name, limits, logger, onMessage);
        connection._readLoop = connection.ReadLoopAsync();
        return connection;
    }

    /// <summary>
    /// Sends a command (its lines, without the final blank line) and completes with its command/reply or
    /// api/response. Cancelling stops the wait only; the reply, when it comes, is discarded.
    /// </summary>
    /// <exception cref="EslConnectionLostException">The connection closed before the reply came.</exception>
    public async Task<EslMessage> SendAsync(string command, CancellationToken ct = default)
    {
        var pending = new PendingReply(command);
        await _writeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            lock (_repliesLock)
            {
                if (IsClosed)
                {
                    throw EslConnectionLostException.Lost(_closeReason);
                }
                // Queued in wire order: the write lock is held until the command is out.
                _replies.Enqueue(pending);
            }
            EslFrame.WriteCommand(_writer, command);
            EslLog.CommandSent(_logger, Name, FirstLine(command));
            var flush = await _writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            if (flush.IsCompleted || flush.IsCanceled)
            {
                throw EslConnectionLostException.Lost(_closeReason);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or InvalidOperationException)
        {
            throw EslConnectionLostException.Lost(_closeReason ?? ex);
        }
        finally
        {
            _writeLock.Release();
        }
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

    /// <summary>Closes the connection because something above decided it is unusable (no heartbeat).</summary>
    public void Abort(Exception reason)
    {
        Interlocked.CompareExchange(ref _closeReason, reason, null);
        _reader.CancelPendingRead();
        try
        {
            _stream.Dispose();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // Already gone: the read loop notices either way.
        }
    }

    private async Task ReadLoopAsync()
    {
        await Task.Yield();
        Exception? error = null;
        try
        {
            while (true)
            {
                var result = await _reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                try
                {
                    while (EslFrame.TryRead(ref buffer, _limits, out var message))
                    {
                        Dispatch(message);
                    }
                    if (result.IsCanceled)
                    {
                        break;
                    }
                    if (result.IsCompleted)
                    {
                        if (!buffer.IsEmpty)
                        {
                            throw new EslProtocolException(
                                $"FreeSWITCH closed the connection in the middle of a message: '{EslFrame.Preview(buffer)}'");
                        }
                        break;
                    }
                }
                finally
                {
                    _reader.AdvanceTo(buffer.Start, buffer.End);
                }
            }
        }
        catch (EslProtocolException ex)
        {
            EslLog.ProtocolError(_logger, Name, ex.Message);
            error = ex;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or OperationCanceledException)
        {
            error = ex;
        }
        catch (Exception ex)
        {
            // A bug in dispatch must still close the connection cleanly rather than leave commands hanging.
            EslLog.ReadLoopFailed(_logger, Name, ex);
            error = ex;
        }
        finally
        {
            await _reader.CompleteAsync().ConfigureAwait(false);
            Close(_closeReason ?? error ?? new IOException("FreeSWITCH closed the connection"));
        }
    }

    private void Dispatch(EslMessage message)
    {
        var type = message.ContentType;
        if (type is EslContentTypes.CommandReply or EslContentTypes.ApiResponse)
        {
            PendingReply? pending;
            lock (_repliesLock)
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

    private void Close(Exception reason)
    {
        PendingReply[] pending;
        lock (_repliesLock)
        {
            if (!_closed.TrySetResult(reason))
            {
                return;
            }
            Interlocked.CompareExchange(ref _closeReason, reason, null);
            pending = [.. _replies];
            _replies.Clear();
        }
        var lost = EslConnectionLostException.Lost(_closeReason);
        foreach (var request in pending)
        {
            request.Reply.TrySetException(lost);
        }
    }

    /// <summary>Stops writes, closes the transport, ends the read loop and fails whatever was pending.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            await _writer.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
        {
            // The peer is gone already.
        }
        finally
        {
            _writeLock.Release();
        }
        Abort(new EslConnectionLostException("Event Socket connection closed by the client"));
        if (_readLoop is not null)
        {
            await _readLoop.ConfigureAwait(false);
        }
        await _stream.DisposeAsync().ConfigureAwait(false);
    }

    private static string FirstLine(string command)
    {
        var newline = command.IndexOf('\n', StringComparison.Ordinal);
        var line = newline < 0 ? command : command[..newline];
        // Never log the password.
        return line.StartsWith("auth ", StringComparison.Ordinal) ? "auth ****" : line;
    }

    private sealed class PendingReply(string command)
    {
        public string Command { get; } = command;

        public TaskCompletionSource<EslMessage> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
