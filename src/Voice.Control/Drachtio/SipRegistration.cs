using System.Globalization;
using Voice.Control.Sip;

namespace Voice.Control.Drachtio;

/// <summary>
/// A registration with a PBX, kept alive: refreshed before the granted lifetime ends, retried with back-off
/// when it fails, renewed after the link to drachtio-server comes back, and removed (Expires: 0) on dispose.
/// </summary>
public sealed class SipRegistration : IAsyncDisposable
{
    private readonly DrachtioClient _client;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _requestLock = new(1, 1);
    private readonly Lock _wakeLock = new();
    private CancellationTokenSource? _wake;
    private Task? _loop;
    private string? _callId;
    private string? _from;
    private long _cseq;
    private int _failures;
    private int _stopped;

    internal SipRegistration(DrachtioClient client, RegistrationOptions options)
    {
        _client = client;
        Options = options;
    }

    public RegistrationOptions Options { get; }

    public RegistrationState State { get; private set; } = RegistrationState.Unregistered;

    /// <summary>The lifetime the PBX granted in its last 2xx.</summary>
    public TimeSpan? GrantedExpires { get; private set; }

    public DateTimeOffset? ExpiresAt { get; private set; }

    /// <summary>Why the last attempt failed, or null after a success.</summary>
    public Exception? LastError { get; private set; }

    /// <summary>Raised after every change of <see cref="State"/> and after every successful refresh.</summary>
    public event EventHandler? StateChanged;

    internal async Task StartAsync(CancellationToken ct)
    {
        await RegisterOnceAsync(Options.Expires, ct).ConfigureAwait(false);
        _loop = Task.Run(LoopAsync, CancellationToken.None);
    }

    /// <summary>
    /// Refresh before the binding expires: one minute early, and never later than halfway (300 s → at 240 s,
    /// 60 s → at 30 s), so one lost refresh still leaves time for the next.
    /// </summary>
    internal static TimeSpan RefreshDelay(TimeSpan granted) =>
        granted - TimeSpan.FromTicks(Math.Min(granted.Ticks / 2, TimeSpan.FromMinutes(1).Ticks));

    private async Task LoopAsync()
    {
        var stop = _stop.Token;
        while (!stop.IsCancellationRequested)
        {
            var delay = State == RegistrationState.Registered && GrantedExpires is { } granted
                ? RefreshDelay(granted)
                : RetryDelay(_failures);
            using (var wake = CancellationTokenSource.CreateLinkedTokenSource(stop))
            {
                lock (_wakeLock)
                {
                    _wake = wake;
                }
                try
                {
                    await Task.Delay(delay, _client.Time, wake.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                {
                    // Woken early: the link to drachtio-server is back.
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                finally
                {
                    lock (_wakeLock)
                    {
                        _wake = null;
                    }
                }
            }

            try
            {
                await RegisterOnceAsync(Options.Expires, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is DrachtioException or SipFailureException or TimeoutException or OperationCanceledException)
            {
                _failures++;
                LastError = ex;
                var retry = RetryDelay(_failures);
                DrachtioLog.RegistrationFailed(_client.Logger, Options.AddressOfRecord, Options.Registrar, ex.Message, retry);
                SetState(RegistrationState.Unregistered);
            }
        }
    }

    private TimeSpan RetryDelay(int failures)
    {
        var ms = Options.RetryMinDelay.TotalMilliseconds * Math.Pow(2, Math.Min(Math.Max(failures - 1, 0), 20));
        return TimeSpan.FromMilliseconds(Math.Min(ms, Options.RetryMaxDelay.TotalMilliseconds));
    }

    /// <summary>After a reconnect: a registration that failed meanwhile is retried at once.</summary>
    internal void Wake()
    {
        if (State == RegistrationState.Registered)
        {
            return;
        }
        lock (_wakeLock)
        {
            _wake?.Cancel();
        }
    }

    private async Task RegisterOnceAsync(TimeSpan expires, CancellationToken ct)
    {
        await _requestLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var connection = _client.RequireConnection();
            var contact = Options.Contact ?? DefaultContact();
            var digest = Options.Credentials is null ? null : new DigestRetry(Options.Credentials, _client.CnonceFactory);
            var proxy = Options.Proxy;
            KeyValuePair<string, string>? authorization = null;
            var intervalRetried = false;
            while (true)
            {
                var (final, finalMessage) = await SendRegisterAsync(connection, proxy, contact, expires, authorization, ct).ConfigureAwait(false);
                if (final.StatusCode is >= 200 and < 300)
                {
                    OnSuccess(final, contact, expires);
                    return;
                }
                if (final.StatusCode is 401 or 407 && digest is not null && digest.TryAnswer(final, "REGISTER", Options.Registrar, out var answer))
                {
                    DrachtioLog.RetryingWithCredentials(_client.Logger, "REGISTER", Options.Registrar, final.StatusCode);
                    authorization = answer;
                    proxy = DigestRetry.ProxyForRetry(Options.Proxy, new DrachtioNetworkMessage(finalMessage));
                    continue;
                }
                if (final.StatusCode == 423 && !intervalRetried && TryGetSeconds(final.GetHeader("Min-Expires"), out var minimum) && minimum > expires)
                {
                    // RFC 3261 §10.2.8: Interval Too Brief — ask again for the registrar's minimum.
                    intervalRetried = true;
                    expires = minimum;
                    continue;
                }
                throw new SipFailureException(final.StatusCode, final.ReasonPhrase ?? string.Empty, final);
            }
        }
        finally
        {
            _requestLock.Release();
        }
    }

    private async Task<(SipMessage Final, DrachtioMessage Message)> SendRegisterAsync(
        DrachtioConnection connection, string? proxy, string contact, TimeSpan expires, KeyValuePair<string, string>? authorization, CancellationToken ct)
    {
        var aor = $"<{Options.AddressOfRecord}>";
        var builder = SipMessageBuilder.Request("REGISTER", Options.Registrar);
        if (_callId is not null && _from is not null)
        {
            // Refreshes and retries continue the same registration: same Call-ID and From tag, next CSeq (RFC 3261 §10.2.4).
            builder.Header("CSeq", new SipCSeq(++_cseq, "REGISTER").ToString())
                .Header("Call-ID", _callId)
                .Header("From", _from);
        }
        else
        {
            builder.Header("From", aor);
        }
        builder.Header("To", aor)
            .Header("Contact", $"<{contact}>")
            .Header("Expires", ((long)expires.TotalSeconds).ToString(CultureInfo.InvariantCulture));
        if (authorization is { } auth)
        {
            builder.Header(auth.Key, auth.Value);
        }

        var transaction = new ClientTransaction("REGISTER");
        await connection.SendAsync((proxy is null ? "sip||\r\n" : $"sip|||{proxy}\r\n") + builder.Build(), transaction).ConfigureAwait(false);
        try
        {
            var echo = await transaction.ReadReplyAsync(ct).ConfigureAwait(false);
            DrachtioClient.EnsureAccepted(echo);
            var sent = echo.Message.Sip;
            _callId = sent.CallId;
            _from = sent.From;
            _cseq = sent.CSeq?.Number ?? _cseq;
            var final = await _client.AwaitFinalResponseAsync(transaction, ct).ConfigureAwait(false);
            return (final.Sip, final);
        }
        finally
        {
            connection.RemoveTransaction(transaction);
        }
    }

    private void OnSuccess(SipMessage final, string contact, TimeSpan requested)
    {
        _failures = 0;
        LastError = null;
        if (requested == TimeSpan.Zero)
        {
            GrantedExpires = null;
            ExpiresAt = null;
            SetState(RegistrationState.Stopped);
            return;
        }
        var granted = GrantedLifetime(final, contact) ?? requested;
        GrantedExpires = granted;
        ExpiresAt = _client.Time.GetUtcNow() + granted;
        DrachtioLog.Registered(_client.Logger, Options.AddressOfRecord, Options.Registrar, (int)granted.TotalSeconds);
        SetState(RegistrationState.Registered);
    }

    /// <summary>The lifetime of our binding: its Contact's expires parameter, else the Expires header (RFC 3261 §10.2.4).</summary>
    internal static TimeSpan? GrantedLifetime(SipMessage response, string contact)
    {
        foreach (var value in response.GetHeaders("Contact"))
        {
            foreach (var binding in SplitContacts(value))
            {
                if (string.Equals(SipAddress.GetUri(binding), contact, StringComparison.OrdinalIgnoreCase)
                    && TryGetSeconds(SipAddress.GetParameter(binding, "expires"), out var expires))
                {
                    return expires;
                }
            }
        }
        return TryGetSeconds(response.GetHeader("Expires"), out var header) ? header : null;
    }

    private static IEnumerable<string> SplitContacts(string value)
    {
        // Contacts are comma-separated, but a comma may appear inside <…> or quotes.
        var depth = 0;
        var quoted = false;
        var start = 0;
        for (var i = 0; i < value.Length; i++)
        {
            switch (value[i])
            {
                case '"':
                    quoted = !quoted;
                    break;
                case '<' when !quoted:
                    depth++;
                    break;
                case '>' when !quoted:
                    depth--;
                    break;
                case ',' when !quoted && depth == 0:
                    yield return value[start..i];
                    start = i + 1;
                    break;
            }
        }
        yield return value[start..];
    }

    private static bool TryGetSeconds(string? value, out TimeSpan seconds)
    {
        seconds = default;
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var s))
        {
            return false;
        }
        seconds = TimeSpan.FromSeconds(s);
        return true;
    }

    private string DefaultContact()
    {
        var hostPort = _client.Server?.GetSipHostPort("udp") ?? _client.Server?.GetSipHostPort("tcp")
            ?? throw DrachtioConnectionLostException.NotConnected();
        return $"sip:{Options.User}@{hostPort}";
    }

    private void SetState(RegistrationState state)
    {
        State = state;
        try
        {
            StateChanged?.Invoke(this, EventArgs.Empty);
        }
        catch (Exception ex)
        {
            DrachtioLog.RegistrationFailed(_client.Logger, Options.AddressOfRecord, Options.Registrar, "a StateChanged handler threw: " + ex.Message, TimeSpan.Zero);
        }
    }

    /// <summary>Stops refreshing and removes the binding at the PBX (REGISTER with Expires: 0).</summary>
    internal async Task StopAsync(CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
        if (State == RegistrationState.Registered && _client.IsConnected)
        {
            try
            {
                await RegisterOnceAsync(TimeSpan.Zero, ct).ConfigureAwait(false);
                DrachtioLog.Unregistered(_client.Logger, Options.AddressOfRecord, Options.Registrar);
            }
            catch (Exception ex) when (ex is DrachtioException or SipFailureException or OperationCanceledException or TimeoutException)
            {
                DrachtioLog.UnregisterFailed(_client.Logger, Options.AddressOfRecord, Options.Registrar, ex.Message);
            }
        }
        SetState(RegistrationState.Stopped);
    }

    public async ValueTask DisposeAsync()
    {
        using var bounded = new CancellationTokenSource(_client.Options.TransactionTimeout, _client.Time);
        await StopAsync(bounded.Token).ConfigureAwait(false);
        _client.Forget(this);
    }
}
