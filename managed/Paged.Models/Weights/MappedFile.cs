using System.IO.MemoryMappedFiles;

namespace Paged.Models.Weights;

/// <summary>
/// A whole file mapped read-only into memory. Tensors are views into it: nothing is copied until a model
/// uploads them to a device. On Linux the mapping is advised to huge pages and populated at open
/// (<see cref="PageCache"/>).
/// </summary>
public sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _pointer;
    private int _references = 1; // the opener's, released by Dispose; each Lease adds one
    private bool _disposed;

    private MappedFile(string path, long length, MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        Path = path;
        Length = length;
        _map = map;
        _view = view;
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _pointer = p + _view.PointerOffset;
        (HugePagesAdvised, Populated) = PageCache.AdviseMapping((nint)p, length + _view.PointerOffset);
    }

    public string Path { get; }

    public long Length { get; }

    /// <summary>Whether the kernel took <c>MADV_HUGEPAGE</c> for the mapping (see <see cref="PageCache"/>).</summary>
    public bool HugePagesAdvised { get; }

    /// <summary>Whether the whole file was faulted into the mapping at open (<c>MADV_POPULATE_READ</c>).</summary>
    public bool Populated { get; }

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

    /// <summary>
    /// Keeps the mapping alive until the lease is disposed, whoever else disposes the file: a backend that uses the
    /// mapped weights in place holds one per buffer.
    /// </summary>
    public IDisposable Lease()
    {
        ObjectDisposedException.ThrowIf(_pointer == null, this);
        Interlocked.Increment(ref _references);
        return new FileLease(this);
    }

    /// <summary>The address of byte <paramref name="offset"/> (valid while the file or a lease is open).</summary>
    internal nint AddressOf(long offset)
    {
        ObjectDisposedException.ThrowIf(_pointer == null, this);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((ulong)offset, (ulong)Length, nameof(offset));
        return (nint)(_pointer + offset);
    }

    /// <summary>Drops the opener's reference; the file is unmapped when no lease is left either.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Release();
        }
    }

    private void Release()
    {
        if (Interlocked.Decrement(ref _references) != 0)
            return;
        if (_pointer != null)
        {
            _pointer = null;
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
        }

        _view.Dispose();
        _map.Dispose();
    }

    private sealed class FileLease(MappedFile file) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                file.Release();
        }
    }
}
