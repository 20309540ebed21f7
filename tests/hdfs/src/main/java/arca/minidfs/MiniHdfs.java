package arca.minidfs;

import java.io.BufferedReader;
import java.io.File;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.HdfsConfiguration;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.hdfs.MiniDFSNNTopology;
import org.apache.hadoop.hdfs.protocol.HdfsConstants.SafeModeAction;
import org.apache.hadoop.minikdc.MiniKdc;

/**
 * The test HDFS of `cargo xtask test`: a MiniDFSCluster (one NameNode, N DataNodes) on
 * 127.0.0.1, on free ports, until the JVM is stopped (SIGTERM runs a shutdown hook).
 *
 * System properties (all optional but the directory):
 *   -Dminidfs.dir=DIR          base directory (formatted on start); the ready file and the
 *                              client configuration (core-site.xml) are written there
 *   -Dminidfs.dataNodes=1
 *   -Dminidfs.secure=true      Kerberos: a MiniKdc, principal hdfs/localhost in DIR/hdfs.keytab
 *   -Dminidfs.protection=authentication|integrity|privacy   (secure only)
 *   -Dminidfs.ha=true          two NameNodes (name service minidfs-ns, nn1 active, nn2 standby),
 *                              and a ViewFS mount table `arca` (/data -> hdfs://minidfs-ns/viewfs-data,
 *                              everything else to hdfs://minidfs-ns/)
 *                              in the client configuration
 *   -Dconf.KEY=VALUE           any Hadoop setting, for the servers and the client file
 *
 * Once usable it writes DIR/ready.properties atomically: url, rpc_port, http_port, superuser,
 * pid, control_port, webhdfs (and instead krb5_conf, keytab, principal when secure).
 *
 * The control port (127.0.0.1) takes one command per line and answers one line, "ok" or
 * "error: ...", for the fault tests: stop-datanode, start-datanode, restart-namenode,
 * enter-safemode, leave-safemode, failover (HA: the active NameNode becomes standby, the other
 * active), ping.
 */
public class MiniHdfs {
    private static MiniDFSCluster cluster;
    private static MiniDFSCluster.DataNodeProperties stopped;
    private static boolean ha;
    /** The NameNode that is active, in HA mode. */
    private static int active;

    public static void main(String[] args) throws Exception {
        long t0 = System.nanoTime();
        String dirProp = System.getProperty("minidfs.dir");
        if (dirProp == null) {
            System.err.println("minidfs: -Dminidfs.dir=DIR is required");
            System.exit(2);
        }
        File baseDir = new File(dirProp).getAbsoluteFile();
        int dataNodes = Integer.getInteger("minidfs.dataNodes", 1);
        boolean secure = Boolean.getBoolean("minidfs.secure");
        ha = Boolean.getBoolean("minidfs.ha");
        String protection = System.getProperty("minidfs.protection", "authentication");
        File readyFile = new File(baseDir, "ready.properties");
        readyFile.delete();
        baseDir.mkdirs();

        Configuration conf = new HdfsConfiguration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, baseDir.getPath());
        conf.setInt("dfs.replication", Math.min(dataNodes, 3));
        // 16 MiB blocks: a test file of a few dozen MiB spans several.
        conf.setLong("dfs.blocksize", 16L * 1024 * 1024);
        conf.set("dfs.namenode.rpc-bind-host", "127.0.0.1");
        conf.set("dfs.namenode.http-bind-host", "127.0.0.1");
        // WebHDFS gives the Python tests a view of the file system that does not
        // go through Arca (not on the secured cluster, which would want SPNEGO).
        conf.setBoolean("dfs.webhdfs.enabled", !secure);
        // A stopped DataNode is declared dead quickly, so a write that lost its only
        // DataNode fails within seconds instead of waiting out the default ten minutes.
        conf.setInt("dfs.heartbeat.interval", 1);
        conf.setInt("dfs.namenode.heartbeat.recheck-interval", 2000);

        MiniKdc kdc = null;
        String principal = null;
        File keytab = new File(baseDir, "hdfs.keytab");
        if (secure) {
            File kdcDir = new File(baseDir, "kdc");
            kdcDir.mkdirs();
            kdc = new MiniKdc(MiniKdc.createConf(), kdcDir);
            kdc.setTransport("UDP");
            kdc.start();
            kdc.createPrincipal(keytab, "hdfs/localhost");
            principal = "hdfs/localhost@" + kdc.getRealm();
            conf.set("hadoop.security.authentication", "kerberos");
            conf.set("hadoop.security.authorization", "true");
            conf.set("hadoop.rpc.protection", protection);
            conf.set("dfs.data.transfer.protection", protection);
            conf.set("dfs.namenode.keytab.file", keytab.getPath());
            conf.set("dfs.namenode.kerberos.principal", principal);
            conf.set("dfs.datanode.keytab.file", keytab.getPath());
            conf.set("dfs.datanode.kerberos.principal", principal);
            conf.set("dfs.web.authentication.kerberos.principal", principal);
            conf.setBoolean("dfs.block.access.token.enable", true);
            // No jsvc and no privileged ports for the DataNode.
            conf.setBoolean("ignore.secure.ports.for.testing", true);
        }
        for (String k : System.getProperties().stringPropertyNames()) {
            if (k.startsWith("conf.")) {
                conf.set(k.substring(5), System.getProperty(k));
            }
        }

        MiniDFSCluster.Builder builder = new MiniDFSCluster.Builder(conf, baseDir)
                .numDataNodes(dataNodes)
                .format(true);
        if (ha) {
            builder.nnTopology(MiniDFSNNTopology.simpleHATopology());
        } else {
            builder.nameNodePort(0).nameNodeHttpPort(0);
        }
        cluster = builder.build();
        if (ha) {
            cluster.transitionToActive(0);
        }
        cluster.waitActive();
        cluster.waitClusterUp();
        final MiniKdc kdcRef = kdc;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            cluster.shutdown();
            if (kdcRef != null) {
                kdcRef.stop();
            }
        }));

        int rpc = cluster.getNameNode(0).getNameNodeAddress().getPort();
        int http = cluster.getNameNode(0).getHttpAddress().getPort();
        String url = "hdfs://127.0.0.1:" + rpc;

        Configuration client = new Configuration(false);
        client.set("fs.defaultFS", url);
        if (ha) {
            String ns = "minidfs-ns";
            url = "hdfs://" + ns;
            client.set("fs.defaultFS", url);
            client.set("dfs.nameservices", ns);
            client.set("dfs.ha.namenodes." + ns, "nn1,nn2");
            for (int i = 0; i < 2; i++) {
                client.set("dfs.namenode.rpc-address." + ns + ".nn" + (i + 1),
                        "127.0.0.1:" + cluster.getNameNode(i).getNameNodeAddress().getPort());
            }
            client.set("dfs.client.failover.proxy.provider." + ns,
                    "org.apache.hadoop.hdfs.server.namenode.ha.ConfiguredFailoverProxyProvider");
            client.set("fs.viewfs.mounttable.arca.link./data", url + "/viewfs-data");
            // Paths outside the links (the Rust client wants one).
            client.set("fs.viewfs.mounttable.arca.linkFallback", url + "/");
        }
        client.set("dfs.replication", conf.get("dfs.replication"));
        if (secure) {
            client.set("hadoop.security.authentication", "kerberos");
            client.set("hadoop.rpc.protection", protection);
            client.set("dfs.data.transfer.protection", protection);
            client.set("dfs.namenode.kerberos.principal", principal);
        }
        for (String k : System.getProperties().stringPropertyNames()) {
            if (k.startsWith("conf.")) {
                client.set(k.substring(5), System.getProperty(k));
            }
        }
        try (OutputStream os = new FileOutputStream(new File(baseDir, "core-site.xml"))) {
            client.writeXml(os);
        }

        ServerSocket control = new ServerSocket(0, 8, InetAddress.getByName("127.0.0.1"));
        Thread serve = new Thread(() -> serve(control));
        serve.setDaemon(true);
        serve.start();

        StringBuilder props = new StringBuilder()
                .append("url=").append(url).append('\n')
                .append("rpc_port=").append(rpc).append('\n')
                .append("http_port=").append(http).append('\n')
                .append("superuser=").append(System.getProperty("user.name")).append('\n')
                .append("pid=").append(ProcessHandle.current().pid()).append('\n')
                .append("control_port=").append(control.getLocalPort()).append('\n');
        if (!secure) {
            props.append("webhdfs=http://127.0.0.1:").append(http).append("/webhdfs/v1\n");
        }
        if (secure) {
            props.append("krb5_conf=").append(kdc.getKrb5conf().getAbsolutePath()).append('\n')
                    .append("keytab=").append(keytab.getPath()).append('\n')
                    .append("principal=").append(principal).append('\n');
        }
        Path tmp = readyFile.toPath().resolveSibling(readyFile.getName() + ".tmp");
        Files.write(tmp, props.toString().getBytes(StandardCharsets.UTF_8));
        Files.move(tmp, readyFile.toPath(), StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
        System.out.println("ready " + url + " in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        System.out.flush();
        Thread.currentThread().join();
    }

    /** Answers control connections, one at a time. */
    private static void serve(ServerSocket control) {
        while (true) {
            try (Socket s = control.accept();
                 BufferedReader in = new BufferedReader(
                         new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                 PrintWriter out = new PrintWriter(s.getOutputStream(), true, StandardCharsets.UTF_8)) {
                String line;
                while ((line = in.readLine()) != null) {
                    out.println(command(line.trim()));
                }
            } catch (Exception e) {
                System.err.println("minidfs: control: " + e);
            }
        }
    }

    private static synchronized String command(String cmd) {
        try {
            switch (cmd) {
                case "ping":
                    return "ok";
                case "stop-datanode":
                    if (stopped != null) {
                        return "error: a DataNode is already stopped";
                    }
                    stopped = cluster.stopDataNode(0);
                    return stopped == null ? "error: no DataNode to stop" : "ok";
                case "start-datanode":
                    if (stopped == null) {
                        return "error: no DataNode is stopped";
                    }
                    cluster.restartDataNode(stopped, true);
                    stopped = null;
                    cluster.waitActive();
                    return "ok";
                case "failover":
                    if (!ha) {
                        return "error: not an HA cluster";
                    }
                    cluster.transitionToStandby(active);
                    active = 1 - active;
                    cluster.transitionToActive(active);
                    return "ok";
                case "restart-namenode":
                    cluster.restartNameNode(true);
                    cluster.waitClusterUp();
                    return "ok";
                case "enter-safemode":
                    cluster.getNameNodeRpc().setSafeMode(SafeModeAction.SAFEMODE_ENTER, false);
                    return "ok";
                case "leave-safemode":
                    cluster.getNameNodeRpc().setSafeMode(SafeModeAction.SAFEMODE_LEAVE, false);
                    return "ok";
                default:
                    return "error: unknown command " + cmd;
            }
        } catch (Exception e) {
            return "error: " + e.toString().replace('\n', ' ');
        }
    }
}
