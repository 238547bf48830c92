using System.Net.Sockets;

namespace Voice.Control.Net;

/// <summary>What a protocol client does at each point of <see cref="ReconnectLoop.RunAsync"/>.</summary>
internal interface IReconnectingLink<TConnection>
    where TConnection : FramedConnection
{
    TimeProvider Time { get; }

    /// <summary>Connects and authenticates.</summary>
    Task<TConnection> OpenAsync(CancellationToken stopping);

    /// <summary>A failure no retry can cure (refused credentials): the loop stops after <see cref="OnFatal"/>.</summary>
    bool IsFatal(Exception error);

    void OnFatal(Exception error);

    /// <summary>The link is up: publish it, say so, restore what depends on it.</summary>
    void OnUp(TConnection connection);

    /// <summary>Runs while the link is up (pings, a heartbeat watchdog) until <paramref name="ct"/> is cancelled.</summary>
    Task WhileUpAsync(TConnection connection, CancellationToken ct);

    /// <summary>The link that was up is gone (<paramref name="failure"/> says why when known).</summary>
    void OnDown(TConnection connection, Exception? failure, bool stopping);

    /// <summary>An attempt to connect failed; the next one comes after <paramref name="delay"/>.</summary>
    void OnConnectFailed(Exception? failure, int failures, TimeSpan delay);

    TimeSpan NextDelay(int failures);

    /// <summary>Why the connection is closed when the client is disposed.</summary>
    Exception Disposed();
}

/// <summary>
/// The life of a protocol client's link, the same for drachtio-server and the Event Socket: connect, run while
/// up, and after a loss reconnect at once; when connecting itself fails, back off; stop on a fatal failure or
/// when stopping.
/// </summary>
internal static class ReconnectLoop
{
    public static async Task RunAsync<TConnection>(IReconnectingLink<TConnection> link, CancellationToken stopping)
        where TConnection : FramedConnection
    {
        var failures = 0;
        while (!stopping.IsCancellationRequested)
        {
            TConnection? connection = null;
            Exception? failure = null;
            var up = false;
            try
            {
                connection = await link.OpenAsync(stopping).ConfigureAwait(false);
                // Stopping closes whichever connection is current, however late it was established: disposal can run
                // while authentication completes and must not wait forever.
                var current = connection;
                using var closeOnStop = stopping.Register(() => current.Abort(link.Disposed()));
                failures = 0;
                up = true;
                link.OnUp(connection);
                using var watching = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                var watch = link.WhileUpAsync(connection, watching.Token);
                failure = await connection.Closed.ConfigureAwait(false);
                await watching.CancelAsync().ConfigureAwait(false);
                await watch.ConfigureAwait(false);
            }
            catch (Exception ex) when (link.IsFatal(ex))
            {
                link.OnFatal(ex);
                return;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                failure = ex;
            }
            finally
            {
                if (connection is not null)
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                }
            }

            if (up)
            {
                link.OnDown(connection!, failure, stopping.IsCancellationRequested);
                // At once after a link that worked; back off only when connecting itself fails.
                continue;
            }
            var delay = link.NextDelay(failures);
            link.OnConnectFailed(failure, failures++, delay);
            try
            {
                await Task.Delay(delay, link.Time, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>A TCP socket connected to <paramref name="host"/>:<paramref name="port"/> with keep-alive and no Nagle delay; the caller owns it.</summary>
    public static async Task<Socket> ConnectSocketAsync(string host, int port, CancellationToken ct)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            await socket.ConnectAsync(host, port, ct).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
