using Paged.Server.Router;

namespace Paged.Server.Tests.Router;

[TestClass]
public sealed class PrometheusTextTests
{
    [TestMethod]
    public void SumsEverySampleOfTheNamedMetricOnly()
    {
        const string text = "# HELP paged_num_requests_running x\n# TYPE paged_num_requests_running gauge\n"
            + "paged_num_requests_running{model_name=\"a\"} 2\n"
            + "paged_num_requests_running{model_name=\"b\",x=\"}\"} 3.5 1700000000000\r\n"
            + "paged_num_requests_running_total 100\n"
            + "paged_num_requests_running 1e1\n"
            + "paged_num_requests_running{model_name=\"c\"} NaN\n";
        Assert.AreEqual(15.5, PrometheusText.Sum(text, "paged_num_requests_running"));
        Assert.IsNull(PrometheusText.Sum(text, "paged_num_requests_waiting"));
        Assert.IsNull(PrometheusText.Sum("", "paged_num_requests_running"));
    }
}
