using BenchmarkDotNet.Attributes;
using Voice.Control.Phone;

namespace Voice.Bench;

/// <summary>What reading a call's number costs on libphonenumber: the host parses it three times per call and checks the policy once.</summary>
[MemoryDiagnoser]
public class PhoneNumberBenchmarks
{
    private static readonly PhoneNumberRules Germany = new() { DefaultCountryCode = "49" };

    [Benchmark]
    public PhoneNumber ParseInternational() => PhoneNumber.Parse("+1 (555) 123-4567");

    [Benchmark]
    public PhoneNumber ParseNational() => PhoneNumber.Parse("030 1234567", Germany);

    /// <summary>What one call costs: three parses and the policy check, which asks for the kind of line.</summary>
    [Benchmark]
    public string? PerCall()
    {
        PhoneNumber.Parse("+442079460000");
        PhoneNumber.Parse("+442079460000");
        return DestinationPolicy.Default.Check(PhoneNumber.Parse("+442079460000"));
    }
}
