using System.Text;
using Paged.Server.Router;

namespace Paged.Server.Tests.Router;

/// <summary>The event-framed copy under the SSE relay: whole events pass as they complete, half an event never does.</summary>
[TestClass]
public sealed class EventRelayTests
{
    /// <summary>Returns the given chunks one read at a time, then fails the way a dropped connection does (or ends).</summary>
    private sealed class ScriptedStream(IEnumerable<string> chunks, bool failAtEnd) : Stream
    {
        private readonly Queue<byte[]> _chunks = new(chunks.Select(Encoding.UTF8.GetBytes));

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        private int _offset;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_chunks.Count == 0)
                return failAtEnd ? throw new IOException("The response ended prematurely.") : ValueTask.FromResult(0);
            byte[] chunk = _chunks.Peek();
            int n = Math.Min(chunk.Length - _offset, buffer.Length);
            chunk.AsSpan(_offset, n).CopyTo(buffer.Span);
            _offset += n;
            if (_offset == chunk.Length)
            {
                _chunks.Dequeue();
                _offset = 0;
            }

            return ValueTask.FromResult(n);
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Records each write separately, to see what was passed on when.</summary>
    private sealed class WriteLog : MemoryStream
    {
        public List<string> Writes { get; } = [];

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Writes.Add(Encoding.UTF8.GetString(buffer.Span));
            return ValueTask.CompletedTask;
        }
    }

    [TestMethod]
    public async Task EventsSplitAcrossReadsArePassedOnWholeAndHalfAnEventNever()
    {
        var to = new WriteLog();
        var from = new ScriptedStream(["data: {\"a\":", "1}\n\ndata: {\"b\":2}\n", "\ndata: {\"c\"", ":3}\n\ndata: {\"d\":"], failAtEnd: true);

        await Assert.ThrowsExactlyAsync<IOException>(() => ResponseRelay.CopyEventsAsync(from, to, CancellationToken.None));

        CollectionAssert.AreEqual(new[] { "data: {\"a\":1}\n\n", "data: {\"b\":2}\n\n", "data: {\"c\":3}\n\n" }, to.Writes);
    }

    [TestMethod]
    public async Task ACleanEndPassesOnWhatRemainsAndLargeEventsGrowTheBuffer()
    {
        var to = new WriteLog();
        string big = "data: " + new string('x', 40_000) + "\n\n";
        var from = new ScriptedStream([big[..10_000], big[10_000..30_000], big[30_000..], "data: [DONE]\n\n", "trailing"], failAtEnd: false);

        await ResponseRelay.CopyEventsAsync(from, to, CancellationToken.None);

        CollectionAssert.AreEqual(new[] { big, "data: [DONE]\n\n", "trailing" }, to.Writes);
    }
}
