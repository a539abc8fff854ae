using System.IO.MemoryMappedFiles;

namespace Paged.Models.Weights;

/// <summary>
/// A whole file mapped read-only into memory. Tensors are views into it: nothing is copied until a model
/// uploads them to a device.
/// </summary>
public sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _pointer;

    private MappedFile(string path, long length, MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        Path = path;
        Length = length;
        _map = map;
        _view = view;
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _pointer = p + _view.PointerOffset;
    }

    public string Path { get; }

    public long Length { get; }

    /// <summary>Maps <paramref name="path"/>; a missing or empty file is a <see cref="ModelFormatException"/>.</summary>
    public static MappedFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw ModelFormatException.For(path, "file not found");
        long length = new FileInfo(path).Length;
        if (length == 0)
            throw ModelFormatException.For(path, "file is empty");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        try
        {
            var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new MappedFile(path, length, map, view);
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    /// <summary>The bytes [offset, offset + count); the caller keeps count within int range and the file.</summary>
    public ReadOnlySpan<byte> Span(long offset, int count)
    {
        ObjectDisposedException.ThrowIf(_pointer == null, this);
        if (offset < 0 || count < 0 || offset > Length - count)
            throw new ArgumentOutOfRangeException(nameof(offset), $"bytes [{offset}, {offset + count}) are outside {Path} ({Length} bytes)");
        return new ReadOnlySpan<byte>(_pointer + offset, count);
    }

    public void Dispose()
    {
        if (_pointer != null)
        {
            _pointer = null;
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
        }

        _view.Dispose();
        _map.Dispose();
    }
}
