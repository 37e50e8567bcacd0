<%@ Page Language="C#" %>
<script runat="server">
void Page_Load(object s, EventArgs e) {
    Response.Write("Hello " + Server.HtmlEncode(Request.QueryString["name"]));
}
</script>
