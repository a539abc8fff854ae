namespace Paged.Runtime;
