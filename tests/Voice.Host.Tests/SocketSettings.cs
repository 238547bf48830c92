using System.Runtime.CompilerServices;

namespace Voice.Host.Tests;

/// <summary>The test process's sockets, which every host in it shares.</summary>
internal static class SocketSettings
{
    /// <summary>
    /// Socket completions stay on the thread pool in this process. The runtime reads the setting once per process, and
    /// hosts on SQLite (which inline them) run here beside hosts on PostgreSQL (which must not: Program.cs says why).
    /// Inlining changes which thread runs a continuation, not what it does.
    /// </summary>
    [ModuleInitializer]
    internal static void KeepCompletionsOnThePool() => Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "0");
}
