// Places one announce call from a .NET program and prints its state changes. Without a "Drachtio" section in
// appsettings.json (Host, Secret) and "MediaServers", the call runs on the simulated backend: nothing rings.
//
//   dotnet run --project samples/Voice.Sample -- +15005550000 "The backup on nas-01 failed."
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Voice.Control;
using Voice.Control.Calls;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddVoiceControl(builder.Configuration.GetSection("VoiceControl"));
using var host = builder.Build();
await host.StartAsync();

var calls = host.Services.GetRequiredService<IOutboundCalls>();
var to = args.Length > 0 ? args[0] : "+15005550000";
var message = args.Length > 1 ? args[1] : "This is VoiceBridge, calling from a .NET program.";
CallSnapshot placed;
try
{
    placed = calls.Place(new CallRequest { To = to, Message = message });
}
catch (CallRequestException refused)
{
    Console.Error.WriteLine($"Refused: {refused.Message}");
    await host.StopAsync();
    return 2;
}
Console.WriteLine($"Calling {placed.To}{(calls.IsSimulated ? " on the simulated backend" : string.Empty)} (call {placed.CallId})");
await foreach (var change in calls.WatchAsync(placed.CallId))
{
    Console.WriteLine($"  #{change.Sequence} {change.To.ToString().ToLowerInvariant()}{(change.Reason is { } reason ? $" ({reason})" : string.Empty)}");
}
var ended = await calls.WaitForEndAsync(placed.CallId);
await host.StopAsync();
return ended.State == CallState.Completed ? 0 : 1;
