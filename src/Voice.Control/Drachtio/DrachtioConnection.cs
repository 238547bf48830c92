using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Voice.Control.Net;

namespace Voice.Control.Drachtio;

/// <summary>
/// One TCP or TLS connection to drachtio-server: a single read loop that frames and dispatches messages, a
/// single writer that serializes frames under one lock, and the correlation tables — replies by message id,
/// SIP responses by stack transaction id. Everything else (requests from the network) goes to the owner's
/// handler, which must not block.
/// </summary>
internal sealed class DrachtioConnection : FramedConnection
{
    private readonly ILogger _logger;
    private readonly int _maxMessageLength;
    private readonly Action<DrachtioConnection, DrachtioMessage> _onMessage;
    private readonly Dictionary<string, PendingRequest> _pending = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ClientTransaction> _transactions = new(StringComparer.Ordinal);

    private DrachtioConnection(Stream stream, string id, int maxMessageLength, ILogger logger, Action<DrachtioConnection, DrachtioMessage> onMessage)
        : base(stream, readBufferSize: 16 * 1024)
    {
        Id = id;
        _maxMessageLength = maxMessageLength;
        _logger = logger;
        _onMessage = onMessage;
    }

    /// <summary>A short id for logs: the n-th connection of this client.</summary>
    public string Id { get; }

    /// <summary>Opens the transport (TCP, then TLS if configured) and starts the read loop.</summary>
    public static async Task<DrachtioConnection> OpenAsync(
        DrachtioClientOptions options, string id, ILogger logger, Action<DrachtioConnection, DrachtioMessage> onMessage, CancellationToken ct)
    {
        var socket = await ReconnectLoop.ConnectSocketAsync(options.Host, options.Port, ct).ConfigureAwait(false);
        Stream? stream = null;
        try
        {
            stream = new NetworkStream(socket, ownsSocket: true);
            if (options.Tls is { } tls)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = tls.TargetHost ?? options.Host,
                    RemoteCertificateValidationCallback = tls.RemoteCertificateValidation,
                    ClientCertificates = tls.ClientCertificates,
                    EnabledSslProtocols = tls.EnabledProtocols,
                }, ct).ConfigureAwait(false);
            }
            var connection = new DrachtioConnection(stream, id, options.MaxMessageLength, logger, onMessage);
            connection.StartReading();
            return connection;
        }
        catch
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                socket.Dispose();
            }
            throw;
        }
    }

    /// <summary>Sends <c>&lt;new id&gt;|<paramref name="message"/></c> and completes with drachtio-server's reply.</summary>
    /// <exception cref="DrachtioConnectionLostException">The connection closed before the reply came.</exception>
    public async Task<DrachtioResponse> SendRequestAsync(string message, CancellationToken ct = default)
    {
        var pending = new PendingRequest { Reply = new() };
        var id = await SendAsync(message, pending).ConfigureAwait(false);
        try
        {
            return await pending.Reply!.Task.WaitAsync(ct).ConfigureAwait(false);
        }
        catch
        {
            Forget(id);
            throw;
        }
    }

    /// <summary>
    /// Sends a SIP request for <paramref name="transaction"/> and returns once it is written. drachtio-server's
    /// reply is the first message the transaction reads (<see cref="ClientTransaction.ReadReplyAsync"/>), its SIP
    /// responses follow. An OK reply binds the transaction to the stack transaction id inside the read loop,
    /// before any later message is dispatched, so a provisional response right behind the echo cannot be missed;
    /// <see cref="ClientTransaction.OnAccepted"/> runs there too. One wake-up of the reader can thus take the
    /// echo and the responses that came with it.
    /// </summary>
    public async Task SendAsync(string message, ClientTransaction transaction) =>
        transaction.MessageId = await SendAsync(message, new PendingRequest { Transaction = transaction }).ConfigureAwait(false);

    /// <summary>
    /// Sends <c>&lt;new id&gt;|<paramref name="message"/></c> and returns once it is written; drachtio-server's
    /// reply goes to <paramref name="onReply"/> on the read loop (quick and non-blocking), for requests whose reply
    /// nobody waits for, such as the ACK of a 2xx. If the connection closes first, <paramref name="onReply"/> never runs.
    /// </summary>
    public Task SendAsync(string message, Action<DrachtioResponse> onReply) => SendAsync(message, new PendingRequest { OnReply = onReply });

    /// <summary>As <see cref="SendAsync(string, Action{DrachtioResponse})"/>, and <paramref name="onLost"/> runs if the connection closes before the reply.</summary>
    public Task SendAsync(string message, Action<DrachtioResponse> onReply, Action<Exception> onLost) =>
        SendAsync(message, new PendingRequest { OnReply = onReply, OnLost = onLost });

    private async Task<string> SendAsync(string message, PendingRequest pending)
    {
        var id = CorrelationIds.New();
        lock (StateLock)
        {
            if (IsClosed)
            {
                throw DrachtioConnectionLostException.Lost(CloseReason);
            }
            _pending.Add(id, pending);
        }
        try
        {
            await WriteAsync(string.Concat(id, "|", message)).ConfigureAwait(false);
            return id;
        }
        catch
        {
            Forget(id);
            throw;
        }
    }

    private void Forget(string messageId)
    {
        lock (StateLock)
        {
            _pending.Remove(messageId);
        }
    }

    /// <summary>Stops routing messages to <paramref name="transaction"/>: its reply, if still due, and its responses.</summary>
    public void RemoveTransaction(ClientTransaction transaction)
    {
        lock (StateLock)
        {
            if (transaction.MessageId is { } messageId
                && _pending.TryGetValue(messageId, out var pending) && ReferenceEquals(pending.Transaction, transaction))
            {
                _pending.Remove(messageId);
            }
            if (transaction.TransactionId is { } id
                && _transactions.TryGetValue(id, out var current) && ReferenceEquals(current, transaction))
            {
                _transactions.Remove(id);
            }
        }
    }

    private Task WriteAsync(string message) => WriteAsync(writer =>
    {
        DrachtioFrame.Write(writer, message);
        DrachtioLog.FrameSent(_logger, message);
    });

    protected override string PeerName => "drachtio-server";

    protected override bool TryReadMessage(ref ReadOnlySequence<byte> buffer)
    {
        if (!DrachtioFrame.TryRead(ref buffer, _maxMessageLength, out var payload))
        {
            return false;
        }
        Dispatch(DrachtioMessage.Parse(payload));
        return true;
    }

    protected override Exception ProtocolError(string message) => new DrachtioProtocolException(message);

    protected override bool IsProtocolError(Exception error) => error is DrachtioProtocolException;

    protected override void LogProtocolError(string message) => DrachtioLog.ProtocolError(_logger, message);

    protected override void LogReadLoopFailed(Exception error) => DrachtioLog.ReadLoopFailed(_logger, error);

    protected override Exception Lost(Exception? cause) => DrachtioConnectionLostException.Lost(cause);

    private void Dispatch(DrachtioMessage message)
    {
        DrachtioLog.FrameReceived(_logger, message.Text);
        var type = message.Type;
        if (type.SequenceEqual("response"))
        {
            DispatchResponse(new DrachtioResponse(message));
        }
        else if (!type.SequenceEqual("sip"))
        {
            // cdr:* and the like: this client registers for none of them.
            DrachtioLog.MessageIgnored(_logger, message.ToString());
        }
        else if (!TryDeliverToTransaction(message))
        {
            _onMessage(this, message);
        }
    }

    private void DispatchResponse(DrachtioResponse response)
    {
        PendingRequest? pending;
        lock (StateLock)
        {
            var lookup = _pending.GetAlternateLookup<ReadOnlySpan<char>>();
            if (!lookup.TryGetValue(response.RequestId, out pending))
            {
                DrachtioLog.UnmatchedReply(_logger, response.RequestId.ToString());
                return;
            }
            if (!response.IsContinue || pending.Transaction is not null)
            {
                lookup.Remove(response.RequestId);
            }
            if (pending.Transaction is { } transaction && response.IsOk && response.TransactionId is { Length: > 0 } txnId)
            {
                transaction.TransactionId = txnId;
                _transactions[txnId] = transaction;
            }
        }
        if (pending.Transaction is { } owner)
        {
            if (response.IsOk)
            {
                owner.OnAccepted?.Invoke(response);
            }
            owner.Deliver(response.Message);
        }
        else if (pending.OnReply is { } onReply)
        {
            onReply(response);
        }
        else
        {
            pending.Reply!.TrySetResult(response);
        }
    }

    private bool TryDeliverToTransaction(DrachtioMessage message)
    {
        var sip = message.SipText;
        if (!sip.StartsWith("SIP/2.0 "))
        {
            return false;
        }
        var network = new DrachtioNetworkMessage(message);
        ClientTransaction? transaction;
        lock (StateLock)
        {
            var lookup = _transactions.GetAlternateLookup<ReadOnlySpan<char>>();
            if (!lookup.TryGetValue(network.TransactionIdSpan, out transaction))
            {
                return false;
            }
            // A final response ends the client transaction (sip.Length > 8 holds: it starts with "SIP/2.0 ").
            if (sip.Length > 8 && sip[8] != '1')
            {
                lookup.Remove(network.TransactionIdSpan);
            }
        }
        transaction.Deliver(message);
        return true;
    }

    protected override Action<Exception> DetachPending()
    {
        PendingRequest[] pending = [.. _pending.Values];
        ClientTransaction[] transactions = [.. _transactions.Values];
        _pending.Clear();
        _transactions.Clear();
        return lost =>
        {
            foreach (var request in pending)
            {
                request.Reply?.TrySetException(lost);
                request.Transaction?.Fail(lost);
                request.OnLost?.Invoke(lost);
            }
            foreach (var transaction in transactions)
            {
                transaction.Fail(lost);
            }
        };
    }

    /// <summary>Where a reply goes: a transaction's response stream, a callback, or else <see cref="Reply"/>.</summary>
    private sealed class PendingRequest
    {
        public ClientTransaction? Transaction { get; init; }

        public Action<DrachtioResponse>? OnReply { get; init; }

        public Action<Exception>? OnLost { get; init; }

        public TaskCompletionSource<DrachtioResponse>? Reply { get; init; }
    }
}
