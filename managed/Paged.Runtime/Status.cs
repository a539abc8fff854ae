namespace Paged.Runtime;

/// <summary>Status codes of the native ABI (pg_status).</summary>
public enum Status
{
    Ok = 0,
    InvalidArgument = 1,
    Shape = 2,
    DType = 3,
    OutOfRange = 4,
    OutOfMemory = 5,
    Unsupported = 6,
    Internal = 7,
}

/// <summary>A native call failed; the message is the backend's own explanation.</summary>
public sealed class BackendException : Exception
{
    public BackendException(string message) : base(message) { }

    public BackendException(string message, Exception inner) : base(message, inner) { }

    public BackendException(Status status, string operation, string nativeMessage)
        : base($"{operation} failed ({status}): {nativeMessage}")
    {
        Status = status;
        Operation = operation;
    }

    public Status Status { get; }

    public string Operation { get; } = "";
}
