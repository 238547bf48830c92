using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Voice.Host.Api;

/// <summary>
/// The API's answers to the requests every call makes (its POST, and each poll of it), serialized by code generated
/// at build time: written straight to the output, property by property, instead of through the serializer's reflected
/// metadata. A poll runs seconds after the last one, with the processor's caches taken by the media server in between,
/// and then costs what the code it runs touches; on the lab's real servers writing the answers was 3.8 % of the host's
/// CPU (<c>perf</c>). Types not listed here are serialized as before, with the same options (<see cref="Use"/>).
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, MaxDepth = MaxDepth)]
[JsonSerializable(typeof(CallView))]
[JsonSerializable(typeof(PlacedView))]
[JsonSerializable(typeof(CallListView))]
[JsonSerializable(typeof(CallHistoryView))]
internal sealed partial class ApiJson : JsonSerializerContext
{
    /// <summary>
    /// A stored tag (at most 32 levels, TagRules) sits inside a call inside a list; 128 leaves room for calls kept
    /// from before that limit.
    /// </summary>
    public const int MaxDepth = 128;

    /// <summary>The host's JSON options: web defaults, these types generated, the rest reflected (<see cref="Use"/>).</summary>
    public static JsonSerializerOptions HostOptions => Made.Options;

    /// <summary>
    /// Made on first use, in a class of its own: a field of this one could be initialized before <see cref="Default"/>,
    /// which the generated half of the class declares.
    /// </summary>
    private static class Made
    {
        public static readonly JsonSerializerOptions Options = Create();

        private static JsonSerializerOptions Create()
        {
            var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
            Use(options);
            options.MakeReadOnly();
            return options;
        }
    }

    /// <summary>Makes the host's JSON options serialize these types with the generated code, and the rest as before.</summary>
    public static void Use(JsonSerializerOptions options)
    {
        options.MaxDepth = MaxDepth;
        if (options.TypeInfoResolverChain.Count == 0)
        {
            // Options made without a resolver: the reflected one is what they used for every type.
            options.TypeInfoResolverChain.Add(new DefaultJsonTypeInfoResolver());
        }
        options.TypeInfoResolverChain.Insert(0, Default);
    }
}
