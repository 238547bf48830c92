using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace Voice.Control.Net;

/// <summary>
/// The transport half of a protocol connection (drachtio control, Event Socket): one read loop that frames and
/// dispatches messages, one writer that serializes writes under a lock, and an orderly close that fails
/// everything still pending with one clear error. Subclasses frame, dispatch and keep the pending tables;
/// <see cref="StateLock"/> guards those tables together with the closed state.
/// </summary>
internal abstract class FramedConnection : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    // Completed outside StateLock, after the pending tables failed: what awaits the close continues on the read loop
    // that noticed it, as replies do, instead of waking a pool thread for each awaiter.
    private readonly TaskCompletionSource<Exception?> _closed = new();
    private volatile bool _isClosed;
    private Exception? _closeReason;
    private Task? _readLoop;
    private int _disposed;

    /// <param name="stream">The connection's stream; the connection disposes of it.</param>
    /// <param name="readBufferSize">The smallest buffer each read takes from the pool.</param>
    /// <param name="bufferOnlyWhenReadable">
    /// Wait for the peer with a zero-byte read, taking a buffer only once bytes have arrived: for connections that wait
    /// most of their life, one per call (a call's Event Socket connection held 64 KB while it waited, megabytes on a busy
    /// host, kept alive through every garbage collection). A busy connection reads without it, a system call fewer per read.
    /// </param>
    protected FramedConnection(Stream stream, int readBufferSize, bool bufferOnlyWhenReadable = false)
    {
        _stream = stream;
        _reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: readBufferSize, leaveOpen: true, useZeroByteReads: bufferOnlyWhenReadable));
        _writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
    }

    /// <summary>Completes when the connection is gone, with the reason.</summary>
    public Task<Exception?> Closed => _closed.Task;

    /// <summary>True from the moment the connection starts closing (under <see cref="StateLock"/>): nothing new is taken after it.</summary>
    public bool IsClosed => _isClosed;

    /// <summary>Why the connection closed, once it has (or is closing).</summary>
    protected Exception? CloseReason => _closeReason;

    /// <summary>Guards the subclass's pending tables together with the closed state.</summary>
    protected Lock StateLock { get; } = new();

    /// <summary>For messages: "drachtio-server", "FreeSWITCH".</summary>
    protected abstract string PeerName { get; }

    /// <summary>Takes one message off the front of <paramref name="buffer"/> and dispatches it; false when incomplete.</summary>
    protected abstract bool TryReadMessage(ref ReadOnlySequence<byte> buffer);

    /// <summary>The protocol's error for bytes that cannot be framed (closes the connection).</summary>
    protected abstract Exception ProtocolError(string message);

    protected abstract bool IsProtocolError(Exception error);

    protected abstract void LogProtocolError(string message);

    protected abstract void LogReadLoopFailed(Exception error);

    /// <summary>The protocol's "connection lost" error, with its cause.</summary>
    protected abstract Exception Lost(Exception? cause);

    /// <summary>Called under <see cref="StateLock"/> as the connection closes: empties the pending tables and returns what fails them.</summary>
    protected abstract Action<Exception> DetachPending();

    protected void StartReading() => _readLoop = ReadLoopAsync();

    /// <summary>Runs <paramref name="write"/> under the write lock, then flushes. No cancellation once the lock is held:
    /// stopping halfway through a message would desynchronize the stream.</summary>
    /// <exception cref="Exception">The protocol's <see cref="Lost"/> error when the connection is closed or the write fails.</exception>
    protected async Task WriteAsync(Action<IBufferWriter<byte>> write, CancellationToken ct = default)
    {
        await _writeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (IsClosed)
            {
                throw Lost(_closeReason);
            }
            write(_writer);
            var flush = await _writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            if (flush.IsCompleted || flush.IsCanceled)
            {
                throw Lost(_closeReason);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or InvalidOperationException)
        {
            throw Lost(_closeReason ?? ex);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Closes the connection because something above decided it is unusable (a missed pong or heartbeat).</summary>
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
        Exception? error = null;
        try
        {
            // The first read starts on the caller's stack; its bytes are dispatched off it, as every later read's are.
            var read = _reader.ReadAsync();
            if (read.IsCompleted)
            {
                await Task.Yield();
            }
            while (true)
            {
                var result = await read.ConfigureAwait(false);
                var buffer = result.Buffer;
                try
                {
                    while (TryReadMessage(ref buffer))
                    {
                    }
                    if (result.IsCanceled)
                    {
                        break;
                    }
                    if (result.IsCompleted)
                    {
                        if (!buffer.IsEmpty)
                        {
                            throw ProtocolError($"{PeerName} closed the connection in the middle of a message: '{WireText.Preview(buffer, 48)}'");
                        }
                        break;
                    }
                }
                finally
                {
                    _reader.AdvanceTo(buffer.Start, buffer.End);
                }
                read = _reader.ReadAsync();
            }
        }
        catch (Exception ex) when (IsProtocolError(ex))
        {
            LogProtocolError(ex.Message);
            error = ex;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or OperationCanceledException)
        {
            error = ex;
        }
        catch (Exception ex)
        {
            // A bug in dispatch must still close the connection cleanly rather than leave requests hanging.
            LogReadLoopFailed(ex);
            error = ex;
        }
        finally
        {
            await _reader.CompleteAsync().ConfigureAwait(false);
            Close(_closeReason ?? error ?? new IOException($"{PeerName} closed the connection"));
        }
    }

    private void Close(Exception reason)
    {
        Action<Exception> failPending;
        lock (StateLock)
        {
            if (_isClosed)
            {
                return;
            }
            _isClosed = true;
            Interlocked.CompareExchange(ref _closeReason, reason, null);
            failPending = DetachPending();
        }
        // Everything in flight fails with one clear error, then whoever watches the connection hears of it.
        failPending(Lost(_closeReason));
        _closed.TrySetResult(reason);
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
        Abort(Lost(new IOException("closed by the client")));
        if (_readLoop is not null)
        {
            await _readLoop.ConfigureAwait(false);
        }
        await _stream.DisposeAsync().ConfigureAwait(false);
    }
}
