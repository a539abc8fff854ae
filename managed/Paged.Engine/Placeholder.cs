namespace Paged.Engine;
