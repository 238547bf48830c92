using System.Buffers.Binary;
using Voice.Control.Calls;
using Voice.Control.Tts;

namespace Voice.Control.Simulation;

/// <summary>
/// What the simulated backend records: a tone file as long as the recording ran (in the simulation's time), so that
/// storage, downloads and the dashboard's player work with no telephony. Stereo: 440 Hz on the left (the far end),
/// 660 Hz on the right (the call's audio); mixed: both in one channel.
/// </summary>
internal sealed class SimulatedRecording(RecordingFile file, bool stereo, TimeSpan limit, long startedAt)
{
    private const int SampleRate = 8000;

    /// <summary>The longest tone written, whatever the limit: the simulation stands in for calls, not for disks.</summary>
    private static readonly TimeSpan Longest = TimeSpan.FromMinutes(10);

    public RecordingFile File => file;

    /// <summary>Writes the file (through a temporary name, so no reader sees half of it) for the time recorded.</summary>
    public void Finish(TimeProvider time, double speed)
    {
        var length = TimeSpan.FromTicks((long)(time.GetElapsedTime(startedAt).Ticks * speed));
        length = new[] { length, limit, Longest }.Min();
        Write(file.LocalPath, length, stereo);
    }

    public static void Write(string path, TimeSpan length, bool stereo)
    {
        var channels = (short)(stereo ? 2 : 1);
        var frames = (int)(length.TotalSeconds * SampleRate);
        var data = new byte[frames * 2 * channels];
        for (var i = 0; i < frames; i++)
        {
            var left = Math.Sin(2 * Math.PI * 440 * i / SampleRate) * 6000;
            var right = Math.Sin(2 * Math.PI * 660 * i / SampleRate) * 6000;
            if (stereo)
            {
                BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(i * 4), (short)left);
                BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(i * 4 + 2), (short)right);
            }
            else
            {
                BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(i * 2), (short)((left + right) / 2));
            }
        }
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".part";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write))
        {
            stream.Write(Wav.Header(data.Length, SampleRate, channels));
            stream.Write(data);
        }
        System.IO.File.Move(temporary, path, overwrite: true);
    }
}
