using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

/// <summary>
/// What the machine under a run is like: the same build costs twice as much CPU per call on one virtual machine as on
/// another, so a figure means little without these. A system call's cost shows what the virtualization and the kernel's
/// mitigations charge for every send, receive and wake-up; the machine's busy share shows whether the run measured the
/// host or a machine with no core to spare.
/// </summary>
internal static partial class Machine
{
    [LibraryImport("libc", EntryPoint = "getppid")]
    private static partial int GetParentProcessId();

    /// <summary>What one system call costs here, in microseconds: the best of five rounds of 100,000 <c>getppid</c> calls.</summary>
    public static double SystemCallMicroseconds()
    {
        var best = double.MaxValue;
        for (var round = 0; round < 5; round++)
        {
            var started = Stopwatch.GetTimestamp();
            for (var i = 0; i < 100_000; i++)
            {
                GetParentProcessId();
            }
            best = Math.Min(best, Stopwatch.GetElapsedTime(started).TotalMicroseconds / 100_000);
        }
        return best;
    }

    /// <summary>All cores' busy and total time so far, in clock ticks (the first line of /proc/stat; idle and I/O wait are not busy).</summary>
    public static CoreTime Cores()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(field => long.Parse(field, CultureInfo.InvariantCulture)).ToArray();
        // user nice system idle iowait irq softirq steal (guest time is already in user)
        var total = fields.Take(8).Sum();
        return new CoreTime(total - fields[3] - fields[4], total);
    }
}

/// <summary>Busy and total time of all cores, in clock ticks.</summary>
internal readonly record struct CoreTime(long Busy, long Total)
{
    /// <summary>The share of the cores that was busy between <paramref name="before"/> and this reading, 0 to 1.</summary>
    public double BusySince(CoreTime before) => Total == before.Total ? 0 : (double)(Busy - before.Busy) / (Total - before.Total);
}
