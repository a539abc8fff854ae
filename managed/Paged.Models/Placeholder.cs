namespace Paged.Models;
