using System.Net.Http.Headers;
using System.Text;
using Voice.Control.Net;

namespace Voice.Control.Scripts;

/// <summary>One POST to an application's hook: where, and the JSON body (the call's fields and the verb's result).</summary>
/// <param name="Url">The <c>actionHook</c>.</param>
/// <param name="Body">The JSON to POST.</param>
public sealed record HookRequest(Uri Url, string Body);

/// <summary>The hook's answer: its HTTP status and body (empty: continue the script; a verb list: the rest of it).</summary>
public sealed record HookReply(int Status, string Body);

/// <summary>Calls an application's hooks for call scripts (<c>gather</c> results, <c>redirect</c>).</summary>
public interface ICallHooks
{
    /// <summary>
    /// POSTs <paramref name="request"/> and returns the answer, whatever its status. Throws when no answer came (the
    /// connection failed or was refused, the answer was too large); <paramref name="ct"/> carries the time limit.
    /// </summary>
    Task<HookReply> CallAsync(HookRequest request, CancellationToken ct);
}

/// <summary>
/// Hooks over HTTP: JSON POSTs signed like webhooks (<see cref="WebhookSignature"/>) when a secret is given, the
/// answer read up to <see cref="MaxAnswerBytes"/>. Redirects are not followed (a hook is an application's URL, not a
/// page); the HTTP client decides where connections may go (the host gives it the webhook destination rules).
/// </summary>
public sealed class HttpCallHooks(HttpClient http, byte[]? secret = null, TimeProvider? time = null) : ICallHooks
{
    /// <summary>The largest answer read: a script of 50 verbs fits many times over.</summary>
    public const int MaxAnswerBytes = 256 * 1024;

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>A client for <see cref="HttpCallHooks"/> when the application gives none: no redirects, no time limit of its own.</summary>
    public static HttpClient DefaultClient() => new(new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(2) })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public async Task<HookReply> CallAsync(HookRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var message = new HttpRequestMessage(HttpMethod.Post, request.Url)
        {
            Content = new StringContent(request.Body, Encoding.UTF8, "application/json"),
        };
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (secret is not null)
        {
            message.Headers.TryAddWithoutValidation(WebhookSignature.Header, WebhookSignature.Sign(secret, _time.GetUtcNow().ToUnixTimeSeconds(), request.Body));
        }
        using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        if (response.Content.Headers.ContentLength > MaxAnswerBytes)
        {
            throw new HttpRequestException($"the answer has {response.Content.Headers.ContentLength} bytes; at most {MaxAnswerBytes}");
        }
        await using var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        using var body = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, ct).ConfigureAwait(false)) > 0)
        {
            if (body.Length + read > MaxAnswerBytes)
            {
                throw new HttpRequestException($"the answer is larger than {MaxAnswerBytes} bytes");
            }
            body.Write(chunk, 0, read);
        }
        return new HookReply((int)response.StatusCode, Encoding.UTF8.GetString(body.GetBuffer(), 0, (int)body.Length));
    }
}
