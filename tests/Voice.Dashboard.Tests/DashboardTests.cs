using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;

namespace Voice.Dashboard.Tests;

/// <summary>
/// The dashboard in a real headless Chromium (Debian's <c>chromium</c>, driven by Playwright with the system browser;
/// <c>.ci/run</c> installs it): signing in, calls appearing and changing state live, a call's page with its recording,
/// click-to-call with the agent busy then free, the history, the counters, and a phone-sized screen. A screenshot of every
/// page goes into the test output.
/// </summary>
[NonParallelizable]
public class DashboardTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;
    private DashboardHost _host = null!;

    /// <summary>The system's Chromium: CHROMIUM_PATH, or Debian's.</summary>
    private static string Chromium()
    {
        var path = Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } configured ? configured
            : new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);
        return path ?? throw new InvalidOperationException(
            "No Chromium to test the dashboard in: install Debian's chromium (apt-get install chromium; .ci/run does) or set CHROMIUM_PATH.");
    }

    [OneTimeSetUp]
    public async Task StartBrowser()
    {
        // Expectations wait as long as the page's own steps: CI machines are busy.
        Assertions.SetDefaultExpectTimeout((float)Patience.TotalMilliseconds);
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium(),
            Headless = true,
            // Root in CI containers: Chromium's sandbox needs user namespaces it does not have there.
            Args = ["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        });
    }

    [OneTimeTearDown]
    public async Task StopBrowser()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }

    [SetUp]
    public void StartHost() => _host = new DashboardHost();

    [TearDown]
    public ValueTask StopHost() => _host.DisposeAsync();

    private async Task<IPage> NewPageAsync(ViewportSize? viewport = null)
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = _host.Url, ViewportSize = viewport ?? new ViewportSize { Width = 1280, Height = 900 } });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout((float)Patience.TotalMilliseconds);
        return page;
    }

    private static async Task ScreenshotAsync(IPage page, string name)
    {
        var directory = Path.Combine(TestContext.CurrentContext.WorkDirectory, "screenshots");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        TestContext.AddTestAttachment(path, name);
    }

    private static async Task SignInAsync(IPage page)
    {
        await page.GotoAsync("/");
        await page.FillAsync("#api-key", DashboardHost.ApiKey);
        await page.ClickAsync("button[type=submit]");
        await page.Locator("#nav").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible });
        // The page follows calls once its event stream is connected (it says so: "live").
        await page.Locator("body[data-live='connected']").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Attached });
    }

    private async Task<string> PlaceAsync(object body)
    {
        using var api = _host.Api();
        var response = await api.PostAsJsonAsync("/api/outbound-call", body);
        Assert.That(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString()!;
    }

    private static ILocator StateOf(IPage page, string callId, string state) =>
        page.Locator($"tr[data-call-id='{callId}'] [data-state='{state}']");

    [Test]
    public async Task Signing_in_takes_a_valid_key_only_and_keeps_the_session_out_of_reach_of_scripts_and_other_sites()
    {
        var page = await NewPageAsync();
        await page.GotoAsync("/");
        await ScreenshotAsync(page, "sign-in");
        await page.FillAsync("#api-key", "not-the-key-0000000000");
        await page.ClickAsync("button[type=submit]");
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToHaveTextAsync("That API key is not valid.");
        Assert.That(await page.Locator("#nav").IsHiddenAsync(), Is.True);

        await page.FillAsync("#api-key", DashboardHost.ApiKey);
        await page.ClickAsync("button[type=submit]");
        await Assertions.Expect(page.Locator("#live-calls")).ToBeVisibleAsync();
        var cookie = (await page.Context.CookiesAsync()).Single(c => c.Name == "vb_session");
        Assert.That((cookie.HttpOnly, cookie.SameSite), Is.EqualTo((true, SameSiteAttribute.Strict)));
        Assert.That(await page.EvaluateAsync<string>("() => document.cookie"), Does.Not.Contain("vb_session"), "scripts cannot read the session");

        // A change made with the cookie alone (as a forged form or another page's script would) is refused.
        var forged = await page.EvaluateAsync<JsonElement>("""
            async () => { const r = await fetch('/api/outbound-call', { method: 'POST', headers: { 'Content-Type': 'application/json' },
              body: JSON.stringify({ to: '+15005550000', message: 'forged' }) }); return { status: r.status, body: await r.json() }; }
            """);
        Assert.That((forged.GetProperty("status").GetInt32(), forged.GetProperty("body").GetProperty("code").GetString()), Is.EqualTo((403, "csrf_failed")));

        await page.ReloadAsync();
        await Assertions.Expect(page.Locator("#live-calls")).ToBeVisibleAsync();
        await page.ClickAsync("#sign-out");
        await Assertions.Expect(page.Locator("#api-key")).ToBeVisibleAsync();
        await page.ReloadAsync();
        await Assertions.Expect(page.Locator("#api-key")).ToBeVisibleAsync();
    }

    [Test]
    public async Task A_call_placed_through_the_API_appears_changes_state_live_and_its_page_plays_the_recording()
    {
        var page = await NewPageAsync();
        await SignInAsync(page);
        var (hook, stop) = DashboardHost.Receiver();
        using var receiver = stop;
        await page.EvaluateAsync("() => { window.stillTheSamePage = true; }");
        var callId = await PlaceAsync(new { to = "+15005550000", message = "Disk full on db-01.", record = true, webhookUrl = hook });

        await Assertions.Expect(page.Locator($"tr[data-call-id='{callId}']")).ToBeVisibleAsync();
        await ScreenshotAsync(page, "live-call");
        await Assertions.Expect(StateOf(page, callId, "completed")).ToBeVisibleAsync();
        // Each state arrived on the page as it happened (a state lasting a moment may come and go between two looks, so
        // the row's own record of what it showed is checked), on the same page: nothing reloaded it.
        Assert.That(await page.Locator($"tr[data-call-id='{callId}']").GetAttributeAsync("data-states"), Is.EqualTo("queued dialing ringing playing completed"));
        Assert.That(await page.EvaluateAsync<bool>("() => window.stillTheSamePage === true"), Is.True, "no reload");

        await page.Locator($"tr[data-call-id='{callId}'] a").ClickAsync();
        await Assertions.Expect(page.Locator("#timeline li")).ToHaveCountAsync(5);
        await Assertions.Expect(page.Locator("#timeline")).ToContainTextAsync("completed");
        await Assertions.Expect(page.Locator("#call-facts")).ToContainTextAsync("announce_complete");
        var audio = page.Locator("#recording-1");
        await Assertions.Expect(audio).ToBeVisibleAsync();
        await page.WaitForFunctionAsync("() => { const a = document.querySelector('#recording-1'); return a.readyState >= 1 && a.duration > 0.5; }");
        await page.EvaluateAsync("async () => { const a = document.querySelector('#recording-1'); a.muted = true; await a.play(); }");
        // The recording plays in the browser: its position moves on (polled; a busy machine starts playback later).
        await page.WaitForFunctionAsync("() => document.querySelector('#recording-1').currentTime > 0.1");
        await page.EvaluateAsync("() => document.querySelector('#recording-1').pause()");
        // Every state change's webhook, delivered: the page shows each delivery once the sender is through.
        var delivered = page.Locator("#webhooks tbody tr", new() { HasText = "delivered" });
        var deadline = DateTime.UtcNow + Patience;
        while (await delivered.CountAsync() < 5)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the five webhooks delivered, on the call's page");
            await Task.Delay(300); // the step of a bounded poll: the page shows deliveries as of its last load
            await page.ReloadAsync();
            await Assertions.Expect(page.Locator("#timeline")).ToBeVisibleAsync();
        }
        await Assertions.Expect(page.Locator("#webhooks tbody tr")).ToHaveCountAsync(5);
        await Assertions.Expect(page.Locator("#webhooks tbody tr").Last).ToContainTextAsync("completed");
        await ScreenshotAsync(page, "call-detail");
    }

    [Test]
    public async Task Click_to_call_from_the_page_shows_the_agent_busy_then_free()
    {
        var page = await NewPageAsync();
        await SignInAsync(page);
        await page.FillAsync("#ctc-agent", "101");
        await page.FillAsync("#ctc-to", "+15005550000");
        await page.CheckAsync("#ctc-record");
        await page.ClickAsync("#click-to-call button[type=submit]");
        await Assertions.Expect(page.Locator("#click-result a")).ToBeVisibleAsync();
        var callId = await page.Locator("#click-result a").TextContentAsync();

        var agent = page.Locator("#agents tr[data-agent='101'] td.busy");
        await Assertions.Expect(agent).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator($"tr[data-call-id='{callId}']")).ToContainTextAsync("101 → +15005550000");
        await ScreenshotAsync(page, "click-to-call-busy");

        // A second click for the same agent is refused on the page.
        await page.ClickAsync("#click-to-call button[type=submit]");
        await Assertions.Expect(page.Locator("#click-result .error")).ToContainTextAsync("Agent 101 is in a call");

        await Assertions.Expect(page.Locator("#agents tr[data-agent='101'] td.free")).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await Assertions.Expect(StateOf(page, callId!, "completed")).ToBeVisibleAsync();
        Assert.That(await page.Locator($"tr[data-call-id='{callId}']").GetAttributeAsync("data-states"), Does.EndWith("ringing playing completed"));
        await ScreenshotAsync(page, "click-to-call-free");
    }

    [Test]
    public async Task The_history_filters_and_calls_back_the_counters_chart_the_days_and_a_phone_screen_works()
    {
        var first = await PlaceAsync(new { to = "+15005550000", message = "One." });
        var second = await PlaceAsync(new { to = "+15005550001", message = "Busy." });
        using (var api = _host.Api())
        {
            foreach (var id in new[] { first, second })
            {
                var deadline = DateTime.UtcNow + Patience;
                while ((await api.GetFromJsonAsync<JsonElement>($"/api/call/{id}")).GetProperty("state").GetString() is not ("completed" or "failed"))
                {
                    Assert.That(DateTime.UtcNow, Is.LessThan(deadline));
                    await Task.Delay(50);
                }
            }
        }
        var page = await NewPageAsync(new ViewportSize { Width = 390, Height = 844 });
        await SignInAsync(page);
        await ScreenshotAsync(page, "phone-live");

        await page.ClickAsync("nav a[href='#/history']");
        await Assertions.Expect(page.Locator($"tr[data-call-id='{first}']")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator($"tr[data-call-id='{second}']")).ToBeVisibleAsync();
        await page.SelectOptionAsync("#f-state", "failed");
        await page.ClickAsync("#filters button[type=submit]");
        await Assertions.Expect(page.Locator($"tr[data-call-id='{first}']")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator($"tr[data-call-id='{second}']")).ToBeVisibleAsync();
        await ScreenshotAsync(page, "phone-history");
        await page.Locator($"tr[data-call-id='{second}'] button.call-back").ClickAsync();
        await Assertions.Expect(page.Locator("#ctc-to")).ToHaveValueAsync("+15005550001");

        await page.ClickAsync("nav a[href='#/stats']");
        await Assertions.Expect(page.Locator("#calls-per-day rect")).ToHaveCountAsync(30);
        Assert.That(await page.Locator("#calls-per-day rect").Last.GetAttributeAsync("data-calls"), Is.EqualTo("2"), "today's bar");
        await Assertions.Expect(page.Locator("#daily-total")).ToContainTextAsync("today 2");
        await Assertions.Expect(page.Locator("#by-destination tbody tr")).ToHaveCountAsync(2);
        Assert.That(await page.Locator("#by-destination .bar").First.EvaluateAsync<string>("b => b.style.width"), Is.EqualTo("100%"), "a bar per destination");
        await ScreenshotAsync(page, "phone-counters");

        var wide = await NewPageAsync();
        await SignInAsync(wide);
        await wide.ClickAsync("nav a[href='#/stats']");
        await Assertions.Expect(wide.Locator("#calls-per-day rect")).ToHaveCountAsync(30);
        await ScreenshotAsync(wide, "counters");
        await wide.ClickAsync("nav a[href='#/agents']");
        await Assertions.Expect(wide.Locator("#agents tr[data-agent='102'] td.free")).ToBeVisibleAsync();
        await ScreenshotAsync(wide, "agents");
    }
}
